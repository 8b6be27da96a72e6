"""The unsafe-situation report use case: each rule once, against the commands every path
calls (chat buttons and dialogs, dashboard, CLI), on both backends."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.engine import Engine
from bot.usecases import reports
from storage.models import AuditEntry, Report, ReportNote
from storage.reports import ANONYMOUS, HIDDEN, NAMED
from tests.support.org import Org
from tests.support.usecases import refusal, run


async def audits(engine: Engine, action: str) -> list[AuditEntry]:
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(AuditEntry).where(AuditEntry.action == action)
        return list((await session.execute(stmt)).scalars())


async def submit(engine: Engine, org: Org, privacy: str, **overrides: Any) -> reports.Submitted:
    args: dict[str, Any] = {
        "reporter_id": org.people["emp0"].id,
        "privacy": privacy,
        "description": "  Losse tegel  ",
        "location": "Hal 1",
        "recognisable": None,
        "consent": None,
        "photos": [],
    }
    args.update(overrides)
    return await run(engine, lambda services: reports.submit(services, **args))


async def texts(org: Org, key: str) -> list[str]:
    return [m.text for m in await org.outbox(key)]


async def test_submit_named_hidden_and_anonymous(engine: Engine, org: Org) -> None:
    named = await submit(engine, org, NAMED)
    assert named.code is None and named.report.description == "Losse tegel"
    hidden = await submit(engine, org, HIDDEN)
    anonymous = await submit(engine, org, ANONYMOUS)
    assert anonymous.code is not None and anonymous.report.reporter_id is None
    # Named: audited under the reporter; hidden: without them; anonymous: not at all.
    actors = {e.subject: e.actor_id for e in await audits(engine, "report.submitted")}
    assert actors == {
        f"report:{named.report.id}": org.people["emp0"].id,
        f"report:{hidden.report.id}": None,
    }
    notices = await texts(org, "mo")
    assert len(notices) == 2 and "Emp0" in notices[0] and "Emp0" not in notices[1]


async def test_submit_refuses_bad_text_and_privacy(engine: Engine, org: Org) -> None:
    empty = await refusal(
        engine,
        lambda s: reports.submit(
            s, reporter_id=org.people["emp0"].id, privacy=NAMED, description=" ",
            location="Hal", recognisable=None, consent=None, photos=[],
        ),
    )  # fmt: skip
    assert empty.key == reports.RETYPE and empty.params["max"] == reports.MAX_TEXT
    long_where = "x" * (reports.MAX_WHERE + 1)
    where = await refusal(
        engine,
        lambda s: reports.submit(
            s, reporter_id=org.people["emp0"].id, privacy=NAMED, description="Tegel",
            location=long_where, recognisable=None, consent=None, photos=[],
        ),
    )  # fmt: skip
    assert where.key == reports.RETYPE and where.params["max"] == reports.MAX_WHERE
    bogus = await refusal(
        engine,
        lambda s: reports.submit(
            s, reporter_id=org.people["emp0"].id, privacy="bogus", description="Tegel",
            location="Hal", recognisable=None, consent=None, photos=[],
        ),
    )  # fmt: skip
    assert bogus.key == "common.button_invalid"


async def test_only_moderators_change_a_status(engine: Engine, org: Org) -> None:
    report = (await submit(engine, org, NAMED)).report
    refused = await refusal(
        engine,
        lambda s: reports.set_status(s, report.id, "resolved", moderator_id=org.people["olga"].id),
    )
    assert refused.key == "report.moderators_only"
    missing = await refusal(
        engine,
        lambda s: reports.set_status(s, 999, "resolved", moderator_id=org.people["mo"].id),
    )
    assert missing.key == "report.not_found"


async def test_reject_needs_a_reason_of_limited_length(engine: Engine, org: Org) -> None:
    report = (await submit(engine, org, NAMED)).report
    mo = org.people["mo"].id
    for reason in (None, "   ", "x" * (reports.MAX_REASON + 1)):
        refused = await refusal(
            engine,
            lambda s, r=reason: reports.set_status(
                s, report.id, "rejected", moderator_id=mo, reason=r
            ),
        )
        assert refused.key == reports.RETYPE and refused.params["max"] == reports.MAX_REASON
    changed = await run(
        engine,
        lambda s: reports.set_status(s, report.id, "rejected", moderator_id=mo, reason="Dubbel"),
    )
    assert changed.old == "new" and changed.report.status_reason == "Dubbel"


async def test_transitions(engine: Engine, org: Org) -> None:
    report = (await submit(engine, org, NAMED)).report
    mo = org.people["mo"].id

    async def to(new: str) -> str:
        refused = await refusal(
            engine, lambda s: reports.set_status(s, report.id, new, moderator_id=mo)
        )
        assert refused.key == "report.not_changed"
        return str(refused.params["status"])

    assert await to("new") == "new" and await to("bogus") == "new"
    await run(engine, lambda s: reports.set_status(s, report.id, "forwarded", moderator_id=mo))
    assert await to("forwarded") == "forwarded"
    await run(engine, lambda s: reports.set_status(s, report.id, "resolved", moderator_id=mo))
    assert await to("published") == "resolved"  # final


async def test_reporter_told_except_fully_anonymous(engine: Engine, org: Org) -> None:
    mo = org.people["mo"].id
    for privacy in (NAMED, HIDDEN, ANONYMOUS):
        report = (await submit(engine, org, privacy)).report
        await run(
            engine,
            lambda s, r=report: reports.set_status(
                s, r.id, "forwarded", moderator_id=mo, reason="Naar facilitair"
            ),
        )
    told = [t for t in await texts(org, "emp0") if "nieuwe status" in t]
    assert len(told) == 2 and all("Naar facilitair" in t for t in told)
    # Audited under the moderator, never under a reporter.
    assert {e.actor_id for e in await audits(engine, "report.status")} == {mo}


async def test_publishing_notifies_the_or(engine: Engine, org: Org) -> None:
    report = (await submit(engine, org, HIDDEN)).report
    assert not await org.outbox("olga")
    await run(
        engine,
        lambda s: reports.set_status(s, report.id, "published", moderator_id=org.people["mo"].id),
    )
    [published] = await texts(org, "olga")
    assert str(report.id) in published and "Losse tegel" in published and "Emp0" not in published


async def test_notes(engine: Engine, org: Org) -> None:
    submitted = await submit(engine, org, ANONYMOUS)
    report_id = submitted.report.id
    assert submitted.code is not None
    found = await run(
        engine, lambda s: reports.of_reporter(s, org.people["emp3"].id, submitted.code)
    )
    assert found is not None and found.id == report_id
    # By number only one's own report; an anonymous one has no reporter.
    by_number = await run(
        engine, lambda s: reports.of_reporter(s, org.people["emp0"].id, str(report_id))
    )
    assert by_number is None
    too_long = "x" * (reports.MAX_TEXT + 1)
    refused = await refusal(engine, lambda s: reports.add_reporter_note(s, report_id, too_long))
    assert refused.key == reports.RETYPE
    await run(engine, lambda s: reports.add_reporter_note(s, report_id, " Ook gisteren "))
    assert any("Ook gisteren" in t for t in await texts(org, "mo"))
    not_moderator = await refusal(
        engine,
        lambda s: reports.add_moderator_note(
            s, report_id, "Hm", moderator_id=org.people["emp0"].id
        ),
    )
    assert not_moderator.key == "report.moderators_only"
    mo = org.people["mo"].id
    await run(engine, lambda s: reports.add_moderator_note(s, report_id, "Gebeld", moderator_id=mo))
    async with engine.db.transaction(read_only=True) as session:
        notes = list((await session.execute(select(ReportNote))).scalars())
        assert (await session.get(Report, report_id)) is not None
    by_reporter = {n.text: (n.from_reporter, n.author_id) for n in notes}
    assert by_reporter == {"Ook gisteren": (True, None), "Gebeld": (False, mo)}
    # The reporter's note leaves no audit entry (it would carry a time); the moderator's does.
    assert [e.actor_id for e in await audits(engine, "report.note")] == [mo]
