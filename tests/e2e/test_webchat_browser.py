"""The web chat on a phone in Chromium: it fits, it comes back with its history and what is
open, it switches language without a reload, and a question's buttons go once answered."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from bot.engine import Engine
from tests.e2e.conftest import LiveServer
from tests.e2e.support import invite_link
from tests.support.org import Org
from tests.support.polls import create_poll

WAIT = 10_000  # ms; the chat asks every 2 s


async def _box(page: Page, selector: str) -> dict[str, float]:
    box = await page.locator(selector).bounding_box()
    assert box is not None, selector
    return dict(box)


async def test_web_chat_on_a_phone(
    browser: Browser, server: LiveServer, engine: Engine, org: Org
) -> None:
    poll_id, _options = await create_poll(
        engine, ["Ja", "Nee"], question="Zullen we op vrijdag thuiswerken?"
    )
    context = await server.context(browser, phone=True)
    chat = await context.new_page()
    await chat.goto(server.url(await invite_link(engine, org.people["emp0"])))
    await chat.get_by_role("button", name="Chat openen").click()
    await expect(chat.get_by_role("heading", level=1)).to_have_text("Hallo Emp0!")
    open_now = chat.locator("#open-items")
    await expect(open_now).to_contain_text(f"Peiling {poll_id}: Zullen we op vrijdag thuiswerken?")

    # It fits 390 px: no sideways scrolling, the send button in view, a slim input.
    assert await chat.evaluate("document.documentElement.scrollWidth") <= 390
    send = await _box(chat, "button.send")
    assert send["x"] + send["width"] <= 390 and send["y"] + send["height"] <= 844
    composer = await _box(chat, "#composer")
    assert composer["height"] < 0.15 * 844, composer
    log = await _box(chat, "#log")
    assert log["height"] > 0.3 * 844, log

    # A question's buttons go once one is pressed.
    await open_now.get_by_role("button", name="Peilingen tonen").click()
    poll = chat.locator("article.msg.bot", has_text="thuiswerken").last
    await expect(poll.get_by_role("button", name="Nee")).to_be_visible(timeout=WAIT)
    await poll.get_by_role("button", name="Nee").click()
    await expect(poll.get_by_role("button")).to_have_count(0)
    await expect(chat.locator("#log")).to_contain_text("Je koos: Nee", timeout=WAIT)
    await expect(open_now).to_contain_text("al gedaan", timeout=WAIT)

    # Opened again (a new tab): the history is back, the answered poll without buttons.
    again = await context.new_page()
    await again.goto(server.url("/chat"))
    await expect(again.locator("#log")).to_contain_text("Je koos: Nee")
    answered = again.locator("article.msg.bot", has_text="thuiswerken?").first
    await expect(answered.get_by_role("button", name="Nee")).to_have_count(0)

    # Switching to English changes the page's own texts at once, without a reload.
    await again.evaluate("window.notReloaded = true")
    await again.get_by_label("Je bericht").fill("taal")
    await again.get_by_role("button", name="Versturen").click()
    await again.locator("article.msg.bot").get_by_role("button", name="English").last.click()
    await expect(again.get_by_role("button", name="Send")).to_be_visible(timeout=WAIT)
    await expect(again.get_by_role("heading", level=1)).to_have_text("Hello Emp0!")
    assert await again.evaluate("document.documentElement.lang") == "en"
    assert await again.evaluate("window.notReloaded === true")
    await expect(again.locator("#open-items")).to_contain_text("Poll")

    # Reloaded, the tab keeps what the person typed (the server never stores it), in place,
    # and no message twice.
    await again.reload()
    await expect(again.locator("article.msg.me", has_text="taal")).to_have_count(1)
    ids = await again.evaluate(
        "Array.from(document.querySelectorAll('#log article.msg.bot'), (n) => n.dataset.id)"
    )
    assert len(ids) == len(set(ids)) and ids == sorted(ids, key=int)
    order = await again.evaluate(
        "Array.from(document.querySelectorAll('#log article'), (n) => n.textContent.trim())"
    )
    asked = next(i for i, text in enumerate(order) if text == "taal")
    assert "Which language" in order[asked + 1]
    assert server.foreign_requests() == []
    await context.close()
