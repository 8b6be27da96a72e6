"""The quick-reply templates that WhatsAppAdapter.render fills in, created in Twilio's Content API.

WhatsApp shows buttons only in content messages. In a session message (within 24 hours of the
person's last message) a twilio/quick-reply content needs no Meta approval, but takes at most
three buttons. One content per number of buttons, all of them variables — body {{1}}, button n
titled {{2n}} with id {{2n+1}} — serves every poll: the adapter puts the question and the
choices in, and Twilio posts the tapped id back as ButtonPayload.
"""

from __future__ import annotations

from typing import Any

from adapters.whatsapp_outbound import QUICK_REPLY_MAX_BUTTONS, WhatsAppAdapter

SAMPLE_QUESTION = "Wat vind je van het nieuwe rooster?"
SAMPLE_LABELS = ("Goed", "Matig", "Slecht")


def quick_reply_content(buttons: int, language: str) -> dict[str, Any]:
    """The Content API request for a quick reply with `buttons` buttons (1-3)."""
    if not 1 <= buttons <= QUICK_REPLY_MAX_BUTTONS:
        raise ValueError(f"a session quick reply has 1 to {QUICK_REPLY_MAX_BUTTONS} buttons")
    actions = [
        {"type": "QUICK_REPLY", "title": f"{{{{{2 * n}}}}}", "id": f"{{{{{2 * n + 1}}}}}"}
        for n in range(1, buttons + 1)
    ]
    samples = {"1": SAMPLE_QUESTION}
    for n in range(1, buttons + 1):
        samples[str(2 * n)] = SAMPLE_LABELS[n - 1]
        samples[str(2 * n + 1)] = f"poll:1:vote:{n}"
    return {
        "friendly_name": f"achterban_quick_reply_{buttons}",
        "language": language,
        "variables": samples,
        "types": {
            "twilio/quick-reply": {"body": "{{1}}", "actions": actions},
            # What channels without buttons show; our adapter never sends it elsewhere.
            "twilio/text": {"body": "{{1}}"},
        },
    }


async def create_quick_reply_contents(adapter: WhatsAppAdapter, language: str) -> dict[int, str]:
    """Create the contents for 1 to 3 buttons; their SIDs by number of buttons."""
    from twilio.rest.content.v1.content import ContentList

    contents = adapter.rest_client().content.v1.contents
    sids: dict[int, str] = {}
    for buttons in range(1, QUICK_REPLY_MAX_BUTTONS + 1):
        request = ContentList.ContentCreateRequest(quick_reply_content(buttons, language))
        created = await contents.create_async(request)
        sids[buttons] = str(created.sid)
    return sids
