"""The layers, checked on the source: who may import whom, and how big a module or function may
grow (docs/architecture.md, "Layers").

- dialogs/ import no adapters and no web pages;
- adapters/ import no dialogs, no storage and no web pages (they talk to the engine through
  bot.messages.EngineApi);
- storage/ imports no dialogs, adapters or web pages, and of the core only its message types;
- the core (bot/, but for its web pages) imports no dialogs, adapters or web pages;
- the callers (web pages, CLI) reach a job through its use case, never through its dialog;
- the composition root (bot/app.py, bot/server.py, bot/demo.py) is the only place that
  imports across all of them; the CLI may start adapters (`achterban chat`, platform set-up);
- no production module has more than 400 lines; a function of more than 60 lines says why in
  its docstring ("Long because …").
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "dialogs", "adapters", "storage")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
LONG_BECAUSE = "Long because"
# Where everything is wired together.
# bot/demo.py seeds a demo organisation through the jobs, as a script would.
COMPOSITION_ROOTS = ("bot/app.py", "bot/server.py", "bot/demo.py")
CLI = "bot/cli/"
WEB = "bot.web"
# The core types storage may use: messages, errors and keyed hashes.
STORAGE_MAY_USE = ("bot.messages", "bot.errors", "bot.privacy", "bot.text")


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            yield path.relative_to(ROOT).as_posix(), path


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _is(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def forbidden(name: str, module: str) -> str | None:
    """Why `name` (a file) may not import `module`, or None."""
    if name.startswith(COMPOSITION_ROOTS):
        return None
    if name.startswith(CLI) or name.startswith("bot/web/"):
        if _is(module, "dialogs"):
            return "web pages and the CLI call use cases, not dialogs"
    elif name.startswith("dialogs/"):
        if _is(module, "adapters") or _is(module, WEB):
            return "dialogs import no adapters or web pages"
    elif name.startswith("adapters/"):
        if _is(module, "dialogs") or _is(module, "storage") or _is(module, WEB):
            return "adapters import no dialogs, storage or web pages"
        if _is(module, "bot.engine"):
            return "adapters know the engine only as bot.messages.EngineApi"
    elif name.startswith("bot/") and not name.startswith("bot/web/"):
        if _is(module, "dialogs") or _is(module, "adapters") or _is(module, WEB):
            return "the core imports no dialogs, adapters or web pages"
    elif name.startswith("storage/"):
        if _is(module, "dialogs") or _is(module, "adapters") or _is(module, WEB):
            return "storage imports no dialogs, adapters or web pages"
        if _is(module, "bot") and not any(_is(module, m) for m in STORAGE_MAY_USE):
            return "storage uses only the core's message types"
    return None


def test_layers_import_only_what_they_may() -> None:
    broken = [
        f"{name}: {module} ({why})"
        for name, path in modules()
        for module in sorted(imports(path))
        if (why := forbidden(name, module))
    ]
    assert broken == []


def test_no_module_is_longer_than_400_lines() -> None:
    long = {
        name: n
        for name, path in modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_a_long_function_says_why() -> None:
    unexplained = []
    for name, path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and LONG_BECAUSE not in (ast.get_docstring(node) or ""):
                unexplained.append(f"{name}:{node.lineno} {node.name} ({length} lines)")
    assert unexplained == []


@pytest.mark.parametrize(
    ("name", "module", "allowed"),
    [
        ("dialogs/poll.py", "adapters.slack", False),
        ("dialogs/poll.py", "bot.web.site", False),
        ("adapters/slack.py", "storage.models", False),
        ("adapters/slack.py", "bot.messages", True),
        ("storage/polls.py", "bot.engine", False),
        ("storage/polls.py", "bot.messages", True),
        ("adapters/slack.py", "bot.engine", False),
        ("bot/engine.py", "dialogs.base", False),
        ("bot/app.py", "adapters.slack", True),
        ("bot/cli/poll.py", "dialogs.poll", False),
        ("bot/web/poll_views.py", "dialogs.poll_create", False),
        ("bot/cli/chat.py", "adapters.console", True),
    ],
)
def test_the_rules_themselves(name: str, module: str, allowed: bool) -> None:
    assert (forbidden(name, module) is None) is allowed
