"""The dashboard's look in a real Chromium against a real ``python -m webapp`` (Postgres, embedded
worker): the styled 404 page, ``/docs`` with every outside request blocked, dark mode (following
the browser, and the header's toggle that sticks), keyboard shortcuts, and a phone's header and
queue cards.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, Route, expect

from tests.conftest import AuthUser, sign_in
from tests.webapp import test_dashboard
from tests.webapp.test_dashboard import App, signed_in_page

pytestmark = pytest.mark.timeout(120)
PHONE = {"width": 390, "height": 844}
DARK = re.compile(r"\bbody--dark\b")
app = test_dashboard.app  # the fixture: a webapp on Postgres with its embedded worker


@pytest.fixture
async def page(browser: Browser, app: App, api_user: AuthUser) -> AsyncIterator[Page]:
    async for page in signed_in_page(browser, app.url, api_user):
        yield page


async def body_is_dark(page: Page) -> bool:
    return bool(await page.evaluate("document.body.classList.contains('body--dark')"))


async def expect_dark(page: Page, dark: bool) -> None:
    body = expect(page.locator("body"))
    await (body.to_have_class(DARK) if dark else body.not_to_have_class(DARK))


async def test_unknown_path_is_a_styled_404_with_the_header_and_a_way_back(app: App, page: Page) -> None:
    response = await page.goto(f"{app.url}/nope")
    assert response is not None and response.status == 404
    card = page.get_by_test_id("page-not-found")
    await expect(card).to_contain_text("404")
    await expect(card).to_contain_text("/nope")
    await expect(page.get_by_text("HTTPException")).to_have_count(0)
    await expect(page.get_by_test_id("header")).to_contain_text("Purchases")  # the navigation
    await card.get_by_test_id("back-to-tasks").click()
    await page.wait_for_url(f"{app.url}/tasks")
    await expect(page.get_by_test_id("new-task")).to_be_visible()

    # the API's 404s stay problem details, for a browser too
    api = await app.http.get("/api/nope")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["status"] == 404


async def test_docs_render_with_every_outside_request_blocked(app: App, browser: Browser) -> None:
    """``/docs`` and ``/redoc`` without internet: their assets come from the server itself."""
    context = await browser.new_context()
    blocked: list[str] = []

    async def local_only(route: Route) -> None:
        if route.request.url.startswith(app.url):
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort()

    try:
        await context.route("**/*", local_only)
        page = await context.new_page()
        await page.goto(f"{app.url}/docs")
        operations = page.locator(".opblock")
        await expect(operations.first).to_be_visible(timeout=20_000)
        assert await operations.count() > 10
        await expect(page.locator(".opblock-summary-path", has_text="/api/tasks").first).to_be_visible()
        assert blocked == []  # nothing was even asked of the outside
        await page.goto(f"{app.url}/redoc")  # ReDoc too: its script, fonts and images are ours
        await expect(page.locator("h1", has_text="Taskdeck").first).to_be_visible(timeout=20_000)
        await expect(page.get_by_text("/api/tasks").first).to_be_attached()
        await expect(page.get_by_alt_text("redocly logo")).to_be_visible()  # drawn, not broken
        assert blocked == []
    finally:
        await context.close()


async def test_dark_mode_follows_the_browser(app: App, browser: Browser, api_user: AuthUser) -> None:
    for scheme, dark in (("dark", True), ("light", False)):
        context = await browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme=scheme)
        try:
            page = await context.new_page()
            await sign_in(page, app.url, api_user)
            await page.goto(f"{app.url}/queue")
            await expect(page.get_by_test_id("count-pending")).to_be_visible()
            await expect_dark(page, dark)
            background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert (background == "rgb(15, 18, 23)") is dark, background
        finally:
            await context.close()


async def test_dark_mode_toggle_sticks_across_pages_and_reloads(app: App, page: Page) -> None:
    await page.goto(f"{app.url}/tasks")
    await expect(page.get_by_test_id("new-task")).to_be_visible()
    assert not await body_is_dark(page)  # the context prefers light
    await page.get_by_test_id("theme-toggle").click()
    await expect_dark(page, True)
    title = page.get_by_text("Tasks", exact=True).first
    assert await title.evaluate("e => getComputedStyle(e).color") != "rgb(33, 33, 33)"  # readable on dark
    await page.goto(f"{app.url}/purchases")
    await expect(page.get_by_test_id("order-count")).to_be_visible()
    await expect_dark(page, True)
    await page.reload()
    await expect(page.get_by_test_id("order-count")).to_be_visible()
    await expect_dark(page, True)
    await page.get_by_test_id("theme-toggle").click()
    await expect_dark(page, False)
    await page.reload()
    await expect(page.get_by_test_id("order-count")).to_be_visible()
    await expect_dark(page, False)


LEGEND_TEXT = """([testid, dark]) => {
  // the greys drawn in the chart's legend strip: its text (and a symbol's fill), not the swatches
  const canvas = document.querySelector(`[data-testid="${testid}"] canvas`);
  if (!canvas || !canvas.width) return false;
  const strip = Math.round(26 * devicePixelRatio);
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, strip);
  const greys = [];
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = data.slice(i, i + 4);
    if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) < 24) greys.push(Math.min(r, g, b));
  }
  const darkest = Math.min(...greys), lightest = Math.max(...greys);
  return dark ? greys.length > 0 && darkest > 130 && lightest > 160 : darkest < 100;
}"""


async def expect_chart_text(page: Page, testid: str, *, dark: bool) -> None:
    """The chart's legend text is drawn light on dark, dark on light (read off its canvas)."""
    await page.wait_for_function(LEGEND_TEXT, arg=[testid, dark])


async def test_charts_follow_dark_mode(app: App, page: Page) -> None:
    await page.goto(f"{app.url}/queue")
    await expect(page.get_by_test_id("throughput").locator("canvas").first).to_be_visible()
    await expect_chart_text(page, "throughput", dark=False)
    await page.get_by_test_id("theme-toggle").click()
    await expect_dark(page, True)
    await expect_chart_text(page, "throughput", dark=True)  # redrawn on the toggle
    await expect_chart_text(page, "times", dark=True)
    await page.reload()  # a chart created in a dark page starts dark
    await expect(page.get_by_test_id("throughput").locator("canvas").first).to_be_visible()
    await expect_chart_text(page, "failure-rate", dark=True)
    await page.get_by_test_id("theme-toggle").click()
    await expect_chart_text(page, "failure-rate", dark=False)


async def test_keyboard_shortcuts(app: App, page: Page) -> None:
    await page.goto(f"{app.url}/tasks")
    search = page.locator("input[data-testid=search], [data-testid=search] input")
    await expect(search).to_be_visible()
    await page.locator("body").click(position={"x": 5, "y": 300})

    await page.keyboard.press("/")
    await expect(search).to_be_focused()
    await page.keyboard.type("n?/")  # typing in a field: the keys are text, not shortcuts
    await expect(search).to_have_value("n?/")
    await expect(page.locator(".q-dialog")).to_have_count(0)
    await search.fill("")
    await search.blur()

    await page.keyboard.press("?")
    help_dialog = page.get_by_test_id("shortcuts")
    await expect(help_dialog).to_be_visible()
    for key in ("/", "n", "?"):
        await expect(help_dialog.locator("kbd", has_text=key).first).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(help_dialog).to_be_hidden()
    await expect(page.locator(".q-dialog")).to_have_count(0)  # closed (keys wait while one is open)

    await page.keyboard.press("n")
    await expect(page.locator(".q-dialog").get_by_label("Product")).to_be_visible(timeout=15_000)
    await page.keyboard.press("Escape")
    await expect(page.locator(".q-dialog")).to_have_count(0)

    # elsewhere, "n" goes to the tasks page and opens the dialog there
    await page.goto(f"{app.url}/queue")
    await expect(page.get_by_test_id("count-pending")).to_be_visible()
    await page.keyboard.press("n")
    await page.wait_for_url(f"{app.url}/tasks")
    await expect(page.locator(".q-dialog").get_by_label("Product")).to_be_visible(timeout=15_000)


async def test_phone_header_is_one_row_and_queue_cards_are_whole(
    app: App, browser: Browser, api_user: AuthUser
) -> None:
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = await context.new_page()
        await sign_in(page, app.url, api_user)
        for path in ("/tasks", "/queue", "/purchases", "/settings"):
            await page.goto(f"{app.url}{path}")
            header = page.get_by_test_id("header")
            await expect(header).to_be_visible()
            await page.wait_for_timeout(300)  # let the fonts and icons settle
            box = await header.bounding_box()
            assert box is not None and box["height"] < 64, (path, box)  # one row, not three
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], (path, width)  # no horizontal scrolling

        # the queue's state cards: every label whole inside its card, every card inside the screen
        await page.goto(f"{app.url}/queue")
        await expect(page.get_by_test_id("count-scheduled")).to_be_visible()
        cut = await page.evaluate(
            """() => [...document.querySelectorAll('[data-testid^=count-]')].map(count => {
                 const card = count.closest('.q-card'); const label = card.querySelector('.uppercase');
                 const c = card.getBoundingClientRect(), l = label.getBoundingClientRect();
                 return {state: label.textContent, ok: label.scrollWidth <= label.clientWidth
                         && l.right <= c.right + 0.5 && c.left >= 0 && c.right <= window.innerWidth};
               }).filter(x => !x.ok)"""
        )
        assert cut == []
        assert await page.get_by_test_id("count-scheduled").count() == 1

        # the navigation is in the menu
        await page.get_by_test_id("nav-menu").click()
        await page.locator(".q-menu").get_by_text("Purchases", exact=True).click()
        await page.wait_for_url(f"{app.url}/purchases")
    finally:
        await context.close()


async def test_empty_list_pages_offer_a_next_step(app: App, page: Page) -> None:
    """A new user's lists: each says what is missing and offers the next step."""
    await page.goto(f"{app.url}/tasks")
    state = page.get_by_test_id("tasks-table").get_by_test_id("empty")
    await expect(state).to_contain_text("No tasks here yet")
    await state.get_by_test_id("empty-action").click()
    await expect(page.locator(".q-dialog").get_by_label("Product")).to_be_visible(timeout=15_000)
    await page.keyboard.press("Escape")

    await page.get_by_test_id("bell").click()
    await expect(page.get_by_test_id("bell-menu").get_by_test_id("empty")).to_contain_text(
        "No notifications yet"
    )
    await page.keyboard.press("Escape")

    await page.goto(f"{app.url}/settings")
    for table, text in (
        ("profiles", "No profiles yet"),
        ("accounts", "No accounts yet"),
        ("webhooks", "No webhooks yet"),
    ):
        await expect(page.get_by_test_id(table).get_by_test_id("empty")).to_contain_text(text)
    await page.get_by_test_id("profiles").get_by_test_id("empty-action").click()
    await expect(page.locator(".q-dialog")).to_be_visible(timeout=15_000)  # the new-profile dialog
    await page.keyboard.press("Escape")

    await page.goto(f"{app.url}/watches")
    await expect(page.get_by_test_id("watches").get_by_test_id("empty")).to_contain_text("No watches yet")
