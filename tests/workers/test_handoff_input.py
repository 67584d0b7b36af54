"""The worker's side of a take-over: every kind of input a person sends reaches the bot's page
(the click path end to end is in tests/test_live_e2e.py); typed text is never logged."""

from __future__ import annotations

import logging
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from models.live_keys import LiveKeys
from workers.handoff import Handoff

PAGE = """<body style="margin:0;height:4000px">
<textarea id="t" style="position:absolute;left:0;top:0;width:400px;height:200px"></textarea></body>"""


async def test_click_text_key_and_scroll_reach_the_page(
    browser: Any, caplog: pytest.LogCaptureFixture
) -> None:
    context = await browser.new_context(viewport={"width": 800, "height": 600})
    try:
        page = await context.new_page()
        await page.set_content(PAGE)
        task_id = uuid.uuid4()
        handoff = Handoff(
            db=None,  # type: ignore[arg-type]  # applying input touches only the page
            task=SimpleNamespace(id=task_id),  # type: ignore[arg-type]
            running=None,  # type: ignore[arg-type]
            page=page,
            redis=None,
            keys=LiveKeys.of("test", task_id),
            default_timeout=1,
            lost=RuntimeError,
            say=None,  # type: ignore[arg-type]
        )
        caplog.set_level(logging.DEBUG)
        await handoff._apply({"type": "click", "x": "0.1", "y": "0.1"})  # inside the textarea
        await handoff._apply({"type": "text", "text": "s3cret-typed"})
        await handoff._apply({"type": "key", "key": "Enter"})
        await handoff._apply({"type": "text", "text": "x"})
        assert await page.input_value("#t") == "s3cret-typed\nx"
        await handoff._apply({"type": "click", "x": "0.9", "y": "0.9"})  # outside it: wheel scrolls the page
        await handoff._apply({"type": "scroll", "dy": "300"})
        await page.wait_for_function("window.scrollY >= 300")
        await handoff._apply({"type": "key", "key": "NoSuchKey"})  # refused quietly, not raised
        assert "s3cret-typed" not in caplog.text
    finally:
        await context.close()
