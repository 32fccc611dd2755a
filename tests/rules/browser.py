"""Opens a report file in headless Chromium, offline, and reports what a reader would see."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")


@dataclass
class PageResult:
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    text: str = ""
    pwned: bool = False
    overflow: int = 0
    active: int = 0  # script, img, iframe, object or embed elements: the report has none


def open_page(
    path: Path, width: int, screenshot: Path, *, max_shot_height: int | None = None
) -> PageResult:
    """Open `path` at `width`; the screenshot covers the whole page, or its top
    `max_shot_height` pixels for pages too tall to capture whole in reasonable time."""
    from playwright.sync_api import sync_playwright

    result = PageResult()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: result.console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: result.errors.append(str(e)))

            def refuse(route: Any) -> None:  # nothing may leave the machine
                if route.request.url == path.as_uri():
                    route.continue_()
                else:
                    result.external.append(route.request.url)
                    route.abort()

            page.route("**/*", refuse)
            page.add_init_script("window.pwned = false;")
            page.goto(path.as_uri(), wait_until="load")
            result.ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
            result.text = page.inner_text("body")
            result.pwned = bool(page.evaluate("window.pwned"))
            result.active = page.evaluate(
                "document.querySelectorAll('script, img, iframe, object, embed').length"
            )
            result.overflow = page.evaluate(
                "[...document.querySelectorAll('main > section > *:not(.chart):not(.scroll)')]"
                ".filter(e => e.scrollWidth > document.documentElement.clientWidth + 1).length"
            )
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            if max_shot_height is None:
                page.screenshot(path=str(screenshot), full_page=True)
            else:
                height = min(page.evaluate("document.body.scrollHeight"), max_shot_height)
                clip = {"x": 0, "y": 0, "width": width, "height": height}
                page.screenshot(path=str(screenshot), full_page=True, clip=clip, timeout=120_000)
        finally:
            browser.close()
    return result
