"""The recorded platform payloads (tests/adapters/payloads) as a whole.

Each platform's recordings are posted through its real adapter, and the Incoming each one
becomes is stated, in tests/adapters/test_payloads_{slack,teams,whatsapp}.py; the end-to-end
adapter tests and the fakes build their requests from the same files. Here: every recording
is read by one of those tests (a shape nobody checked fails), and none holds a real
workspace, tenant or phone number.
"""

from __future__ import annotations

import json

import pytest

from tests.adapters import test_payloads_slack, test_payloads_teams, test_payloads_whatsapp
from tests.adapters.payloads import load, names

# The recordings each platform's test module reads.
CHECKED = {
    "slack": test_payloads_slack.CHECKED,
    "teams": test_payloads_teams.CHECKED,
    "whatsapp": test_payloads_whatsapp.CHECKED,
}


@pytest.mark.parametrize("platform", ["slack", "teams", "whatsapp"])
def test_recorded_payloads_are_objects_with_placeholder_ids(platform: str) -> None:
    """Recordings hold no real workspace, tenant or phone: ids are the placeholders (Slack
    T0ACHTER, the zero GUIDs, +316000000xx and AC000…)."""
    for name in names(platform):
        if name.startswith("headers_"):
            continue  # HTTP headers the platform adds, not a payload
        text = json.dumps(load(platform, name))
        assert "T0ACHTER" in text or platform != "slack", name
        if platform == "whatsapp":
            assert "AC00000000000000000000000000000000" in text, name
            assert "+316000000" in text, name
        if platform == "teams":
            assert test_payloads_teams.TENANT in text, name


@pytest.mark.parametrize("platform", sorted(CHECKED))
def test_every_recorded_payload_is_read_by_a_platform_test(platform: str) -> None:
    """A recording without a stated expectation is a shape nobody checked."""
    assert set(names(platform)) == CHECKED[platform]
