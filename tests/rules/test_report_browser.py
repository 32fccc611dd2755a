"""The HTML report in a real headless Chromium: renders, stays offline, runs no source text.

Screenshots at laptop and phone widths land in test-artifacts/ for a human to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rules.report.render import write_report
from rules.report.sample import build_sample_model

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
SECTIONS = [
    "headline",
    "milestones",
    "root-causes",
    "actions",
    "departments",
    "matrix",
    "trend",
    "waived",
    "resolved",
    "sources",
]
WIDTHS = {"laptop": 1366, "phone": 390}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    model = build_sample_model(folder / "model.duckdb", now=NOW, hostile=True)
    return write_report(model, folder / "report.html", "html", now=NOW)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield instance
        instance.close()


@pytest.mark.parametrize("device", list(WIDTHS))
def test_report_renders_offline_without_running_source_text(
    browser: Any, report: Path, device: str
) -> None:
    page = browser.new_page(viewport={"width": WIDTHS[device], "height": 900})
    console: list[str] = []
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))

    def refuse(route: Any) -> None:  # anything but the file itself would leave the machine
        if route.request.url == report.as_uri():
            route.continue_()
        else:
            route.abort()

    page.route("**/*", refuse)
    page.add_init_script("window.pwned = false;")
    page.goto(report.as_uri(), wait_until="load")

    assert [c for c in console if c.startswith("error")] == [] and errors == []
    assert requests == [report.as_uri()]
    assert page.evaluate("window.pwned") is False
    assert page.evaluate("document.querySelectorAll('script, img, iframe').length") == 0
    title = "<script>window.pwned=1</script> Upgrade the loyalty database"
    assert title in page.text_content("#root-causes")  # shown as text, not run

    for section in SECTIONS:
        box = page.locator(f"#{section}").bounding_box()
        assert box and box["height"] > 40, section
    assert page.locator("#matrix svg a.cell").count() >= 5
    assert page.locator("#trend svg polyline").count() == 4  # root causes, fail, warn, info
    # Nothing wider than the screen: the page reads without sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[device]

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"report-{device}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    page.close()


def test_heatmap_cell_leads_to_its_department_list(browser: Any, report: Path) -> None:
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(report.as_uri())
    cell = page.locator("#matrix svg a.cell").first
    target = cell.get_attribute("href")
    assert target and target.startswith("#dept-")
    cell.click()
    assert page.evaluate("location.hash") == target
    assert page.locator(f"{target} tbody tr").count() >= 1
    assert page.locator(target).bounding_box()["y"] < 200  # scrolled to the list
    page.close()


def test_print_layout_hides_navigation(browser: Any, report: Path, tmp_path: Path) -> None:
    page = browser.new_page()
    page.goto(report.as_uri())
    page.emulate_media(media="print")
    assert page.locator("nav").is_hidden()
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf))
    assert pdf.stat().st_size > 10_000
    page.close()
