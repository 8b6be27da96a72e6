"""The CLI starts fast: platform SDKs are imported only by the code that uses them."""

from __future__ import annotations

import subprocess
import sys

SDKS = ("slack_bolt", "slack_sdk", "botbuilder", "botframework", "twilio", "aiohttp_retry")


def test_cli_and_engine_import_no_platform_sdk() -> None:
    code = (
        "import sys, bot.cli.main, bot.cli.chat, bot.engine, bot.delivery;"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({SDKS!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
