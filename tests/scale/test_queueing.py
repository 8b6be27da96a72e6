"""The outbox payload of a message is built directly (storage/outbox.py) instead of through
`to_json` and back, because queueing a poll to 100,000 people spent most of its CPU there; it
must stay exactly what the JSON round trip gives, whatever the message holds."""

from __future__ import annotations

import json
import timeit

import pytest

from bot.messages import Choice, Outgoing, Purpose
from storage.models import utcnow
from storage.outbox import _payload, outbox_row

MESSAGES = [
    Outgoing("Hallo"),
    Outgoing(
        "Peiling: akkoord? ‘ja’ — € 5",
        choices=(Choice("Ja", "poll:1:vote:2"), Choice("Nee", "poll:1:vote:3")),
        images=("media/abc",),
        purpose=Purpose.BROADCAST,
        multiple=True,
        submit_label="Verstuur",
        replaces="ts:1",
        sealed=True,
    ),
    *(Outgoing("x", purpose=p) for p in Purpose),
]


@pytest.mark.parametrize("outgoing", MESSAGES)
def test_payload_is_the_json_round_trip(outgoing: Outgoing) -> None:
    built = _payload(outgoing)
    assert built == json.loads(outgoing.to_json())
    assert json.dumps(built, ensure_ascii=False) == outgoing.to_json()
    assert Outgoing.from_json(built) == outgoing
    assert outbox_row("whatsapp", "+31", 1, outgoing, now=utcnow())["payload"] == built


def test_payload_is_cheaper_than_the_round_trip() -> None:
    outgoing = MESSAGES[1]
    direct = min(timeit.repeat(lambda: _payload(outgoing), number=2000, repeat=3))
    round_trip = min(timeit.repeat(lambda: json.loads(outgoing.to_json()), number=2000, repeat=3))
    print(f"payload: {direct / 2 * 1e3:.1f} µs direct, {round_trip / 2 * 1e3:.1f} µs round trip")
    assert direct < round_trip
