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


def open_page(path: Path, width: int, screenshot: Path) -> PageResult:
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
            result.overflow = page.evaluate(
                "[...document.querySelectorAll('main > section > *:not(.chart):not(.scroll)')]"
                ".filter(e => e.scrollWidth > document.documentElement.clientWidth + 1).length"
            )
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return result
