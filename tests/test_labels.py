"""Every code the program writes to the audit log, and every channel, has a name in every
language (bot/labels.py); an action added without one fails here, not on the dashboard."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.i18n import LANGUAGES, catalogue
from bot.labels import action_name, channel_name, detail_items, subject_name, unreachable_name
from storage.broadcasts import CHANNELS, UNREACHABLE_ERRORS

ROOT = Path(__file__).resolve().parents[1]
ACTION = re.compile(r"[a-z_]+\.[a-z_]+")
# Written with a computed name: bot/web/redaction_views.py f"report.redaction_{verb}".
COMPUTED = {"report.redaction_added", "report.redaction_removed"}


def _constants(tree: ast.Module) -> dict[str, str]:
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def written_actions() -> set[str]:
    """The first argument of every audit(...) call that names its action: a literal or a
    module constant."""
    actions: set[str] = set()
    for folder in ("bot", "dialogs", "storage", "adapters"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            names = _constants(tree)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = getattr(node.func, "id", None) or getattr(node.func, "attr", "")
                if "audit" not in func.lower() or func == "audit_page":
                    continue
                for arg in node.args[:2]:
                    value = (
                        arg.value
                        if isinstance(arg, ast.Constant)
                        else names.get(arg.id)
                        if isinstance(arg, ast.Name)
                        else None
                    )
                    if isinstance(value, str) and ACTION.fullmatch(value):
                        actions.add(value)
    return actions | COMPUTED


def test_the_scan_finds_actions() -> None:
    found = written_actions()
    assert {"report.submitted", "web.login", "roles.changed", "web.invite_sent"} <= found


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_audit_action_has_a_name(lang: str) -> None:
    named = {
        k.removeprefix("label.audit.") for k in catalogue(lang) if k.startswith("label.audit.")
    }
    missing = written_actions() - named
    assert not missing, f"audit actions without a name in {lang}: {sorted(missing)}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_channel_has_a_name(lang: str) -> None:
    for channel in (*CHANNELS, "console", "web"):
        assert channel_name(lang, channel) != channel or channel.istitle(), channel


def test_names() -> None:
    assert action_name("nl", "report.submitted") == "Melding ingediend"
    assert action_name("en", "report.submitted") == "Report submitted"
    assert action_name("nl", "some.future_action") == "some.future_action"
    assert subject_name("nl", "poll:3") == "Peiling 3"
    assert subject_name("en", "campaign:2") == "Nomination campaign 2"
    assert subject_name("nl", "whatever") == "whatever"
    assert channel_name("nl", "console") == "testconsole"
    assert channel_name("en", "whatsapp") == "WhatsApp"
    assert detail_items("nl", {"via": "cli", "added": ["or_member"], "x": True}) == [
        ("via", "opdrachtregel"),
        ("toegevoegd", "OR-lid"),
        ("x", "ja"),
    ]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_unreachable_reason_has_a_name(lang: str) -> None:
    """The reasons storage/broadcast_status.py counts: no channel, the platforms' refusals."""
    for reason in (*UNREACHABLE_ERRORS, "no_channel", "unknown"):
        assert unreachable_name(lang, reason) != reason, reason
