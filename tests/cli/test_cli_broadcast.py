"""`achterban broadcast …` as an operator uses it, against the test database (both backends);
delivery by the real worker over a test channel."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from bot.cli.broadcast import broadcast_app
from bot.engine import Engine
from storage.broadcast_models import Broadcast
from storage.media import MediaStore
from tests.support.broadcasts import deliver
from tests.support.org import Org
from tests.test_photos import astronaut, with_gps

app = typer.Typer()
app.add_typer(broadcast_app, name="broadcast")


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    async def __call__(self, *args: str) -> Any:
        return await asyncio.to_thread(
            self.runner.invoke, app, list(args), env=self.env, catch_exceptions=False
        )

    async def json(self, *args: str) -> Any:
        result = await self(*args, "--format", "json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def cli(org: Org, settings, tmp_path: Path) -> Cli:  # type: ignore[no-untyped-def]
    return Cli({"ACHTERBAN_DATABASE_URL": settings.db_url, "ACHTERBAN_DATA_DIR": str(tmp_path)})


async def row(engine: Engine, broadcast_id: int) -> Broadcast:
    async with engine.db.transaction(read_only=True) as session:
        found = await session.get(Broadcast, broadcast_id)
    assert found is not None
    return found


async def test_send_now_then_follow_the_status(cli: Cli, org: Org, engine: Engine) -> None:
    sent = await cli.json(
        "broadcast", "send", "--text", "Nieuwe cao: de uitleg", "--acknowledge",
        "--created-by", "olga@example.org",
    )  # fmt: skip
    assert list(sent) == ["id"]
    broadcast_id = str(sent["id"])
    before = await cli.json("broadcast", "status", broadcast_id)
    assert (before["recipients"], before["queued"], before["sent"], before["done"]) == (
        10, 10, 0, False,
    )  # fmt: skip
    waiting = await cli("broadcast", "status", broadcast_id, "--timeout", "0.2")
    assert waiting.exit_code == 1 and "10 messages waiting" in waiting.stderr
    await deliver(engine)
    await org.say("emp0", choice=f"bc:{broadcast_id}:useful")
    await org.say("emp2", choice=f"bc:{broadcast_id}:not_useful")
    await org.say("emp2", choice=f"bc:{broadcast_id}:ack")
    after = await cli.json("broadcast", "status", broadcast_id)
    assert {k: after[k] for k in ("recipients", "queued", "sent", "failed", "acknowledged")} == {
        "recipients": 10, "queued": 0, "sent": 10, "failed": 0, "acknowledged": 1,
    }  # fmt: skip
    assert after["feedback"] == {"useful": 1, "not_useful": 1}
    assert {"delivered", "read", "opted_out", "unreachable", "reactions", "replies"} <= set(after)
    followed = await cli("broadcast", "status", broadcast_id, "--timeout", "5")
    assert followed.exit_code == 0, followed.output
    assert "10/10" in followed.stderr  # the progress bar, finished
    assert "recipients" in followed.stdout and "feedback useful" in followed.stdout
    assert (await row(engine, int(broadcast_id))).remind_after_minutes == 24 * 60


async def test_scheduled_then_cancelled(cli: Cli, org: Org, engine: Engine) -> None:
    sent = await cli.json(
        "broadcast", "send", "--text", "Vanavond", "--at", "2099-01-01T19:30",
        "--audience", "department=Productie",
    )  # fmt: skip
    broadcast_id = str(sent["id"])
    found = await row(engine, int(broadcast_id))
    assert (
        found.status == "scheduled"
        and found.scheduled_at.isoformat() == "2099-01-01T18:30:00+00:00"
    )
    listed = await cli.json("broadcast", "list")
    assert [(b["id"], b["status"]) for b in listed] == [(int(broadcast_id), "scheduled")]
    result = await cli("broadcast", "cancel", broadcast_id)
    assert result.exit_code == 0 and "0 unsent messages withdrawn" in result.stderr
    again = await cli("broadcast", "cancel", broadcast_id)
    assert again.exit_code == 1 and "already cancelled" in again.stderr
    missing = await cli("broadcast", "cancel", "999")
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
    assert (await cli.json("broadcast", "status", broadcast_id))["status"] == "cancelled"


async def test_cancel_withdraws_what_is_not_sent(cli: Cli, org: Org, engine: Engine) -> None:
    broadcast_id = str((await cli.json("broadcast", "send", "--text", "Stop mij"))["id"])
    result = await cli("broadcast", "cancel", broadcast_id)
    assert "10 unsent messages withdrawn" in result.stderr
    channels = await deliver(engine)
    assert channels["console"].sent == []
    status = await cli.json("broadcast", "status", broadcast_id)
    assert (status["cancelled"], status["sent"], status["done"]) == (10, 0, True)


async def test_image_audience_and_refusals(
    cli: Cli, org: Org, engine: Engine, tmp_path: Path
) -> None:
    photo = tmp_path / "foto.jpg"
    photo.write_bytes(with_gps(astronaut()))
    for key in ("emp0", "emp1", "emp2"):  # console accounts; emp1 works in Eindhoven
        await org.say(key, "hallo")
    sent = await cli.json(
        "broadcast", "send", "--text", "Zo wordt de kantine", "--image", str(photo),
        "--audience", "location=Tilburg", "--channel", "console",
    )  # fmt: skip
    found = await row(engine, sent["id"])
    assert found.image_id and found.image_id.startswith("p-")
    stored = MediaStore(tmp_path / "media").read(found.image_id)
    assert b"SecretCam" not in stored and len(Image.open(io.BytesIO(stored)).getexif()) == 0
    assert (await cli.json("broadcast", "status", str(found.id)))["recipients"] == 2
    assert (await org.last("emp0")).images == (found.image_id,)

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"no photo")
    for args, message in [
        (("--image", str(bad)), "not a photo I can read"),
        (("--channel", "telex"), "--channel must be one of"),
        (("--audience", "team=X"), "audience must be"),
        (("--audience", "department=Nergens"), "nobody on the roster"),
        (("--at", "gisteren"), "is in the past"),
        (("--at", "half 8"), "could mean"),
        (("--at", "2001-01-01T10:00"), "in the past"),
        (("--created-by", "emp0@example.org"), "is not an OR member"),
    ]:
        result = await cli("broadcast", "send", "--text", "X", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
    empty = await cli("broadcast", "send", "--text", "  ")
    assert empty.exit_code == 2


async def test_replies_are_listed(cli: Cli, org: Org, engine: Engine) -> None:
    broadcast_id = str((await cli.json("broadcast", "send", "--text", "Wat vind jij?"))["id"])
    await org.say("emp0", choice=f"bc:{broadcast_id}:useful")
    await org.say("emp0", "Goed dat jullie dit vragen")
    replies = await cli.json("broadcast", "replies", broadcast_id)
    assert [(r["name"], r["department"], r["text"]) for r in replies] == [
        ("Emp0", "Productie", "Goed dat jullie dit vragen")
    ]
