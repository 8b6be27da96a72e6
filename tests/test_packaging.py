"""Every data file the code reads ships in the package: the Docker image installs with
`pip install .`, so a catalogue, template or word list left out of pyproject's package-data
works in a checkout and breaks in production."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _matches(relative: str, pattern: str) -> bool:
    """setuptools' glob: '*' stays within one folder."""
    return fnmatch(relative, pattern) and relative.count("/") == pattern.count("/")


def test_every_data_file_is_in_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data: dict[str, list[str]] = config["tool"]["setuptools"]["package-data"]
    missing = []
    for package, patterns in package_data.items():
        base = ROOT / package
        for path in base.rglob("*"):
            if not path.is_file() or path.suffix in {".py", ".pyc"} or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(base).as_posix()
            if not any(_matches(relative, p) for p in patterns):
                missing.append(f"{package}/{relative}")
    assert missing == []
