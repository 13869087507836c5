"""The web studio in Debian's headless Chromium, driven by Playwright, against a real `cadenza serve`."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import Server

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("CADENZA_CHROMIUM", "/usr/bin/chromium")
# Headless on a closed network: without the background-networking flags Chromium keeps dialling out.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(os.environ.get("CADENZA_SCREENSHOTS", Path(__file__).parents[2] / "docs" / "screenshots"))
DESKTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
WAIT_MS = 60_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"needs Chromium at {CHROMIUM} (apt install chromium)"),
]


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("studio") / "home", ui=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright_api.Browser]:
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def open_studio(browser, studio: Server, viewport: dict[str, int] = DESKTOP):
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(WAIT_MS)
    page.goto(studio.url + "/")
    page.wait_for_selector("#cz-generate-run")
    return page


def set_number(page, selector: str, value: float) -> None:
    # A number box inside an accordion that has just opened can be re-mounted with its initial value
    # right after it was filled: fill it again until the value stays.
    box = page.locator(f"{selector} input[type=number]").first
    for _ in range(10):
        box.fill(str(value))
        box.press("Enter")
        page.wait_for_timeout(150)
        if box.input_value() == str(value):
            return
    raise AssertionError(f"{selector} would not keep the value {value}")


def choose(page, selector: str, text: str) -> None:
    """Pick the option of a Gradio dropdown whose label contains `text`."""
    page.locator(f"{selector} input").first.click()
    page.get_by_role("option", name=re.compile(re.escape(text))).first.click()


def open_tab(page, name: str) -> None:
    tab = page.get_by_role("tab", name=name, exact=True)
    if tab.count():
        tab.click()
    else:  # on a phone the tabs that do not fit sit behind the "More tabs" menu
        page.get_by_label("More tabs").click()
        page.locator(".overflow-dropdown button", has_text=name).first.click()


def finished_job(page, status: str = "succeeded", other_than: str = ""):
    job = page.locator(f"#cz-status .cz-job[data-status={status}]:not([data-job='{other_than}'])").first
    job.wait_for()
    return job


def loaded_duration(page) -> float:
    """Load the player's audio in a fresh <audio> element, as a browser would, and read its duration."""
    href = page.locator("#cz-player a[download]").first.get_attribute("href")
    return page.evaluate(
        """href => new Promise((resolve, reject) => {
            const audio = new Audio();
            audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
            audio.addEventListener('error', () => reject(new Error('audio failed to load')));
            audio.src = href;
        })""",
        href,
    )


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_generate_play_find_in_history_reuse_and_edit(browser, studio: Server) -> None:
    page = open_studio(browser, studio)
    page.locator("#cz-generate-prompt textarea").fill("sunny reggae with organ")
    set_number(page, "#cz-generate-duration", 16)
    page.click("#cz-generate-run")
    job = finished_job(page)
    job_id = job.get_attribute("data-job")
    seed = page.locator("#cz-generate-seed input").input_value()
    assert abs(loaded_duration(page) - 16.0) < 0.5
    assert page.locator("#cz-downloads").get_by_text(re.compile(r"\.mid$")).count() == 1
    page.click("#cz-export-ardour")
    page.locator("#cz-downloads").get_by_text(re.compile(r"\.zip$")).first.wait_for()

    open_tab(page, "History")
    page.locator("#cz-history-search textarea, #cz-history-search input").first.fill("reggae")
    page.locator("#cz-history-search textarea, #cz-history-search input").first.press("Enter")
    row = page.locator("#cz-history-table").get_by_text(job_id).filter(visible=True).first
    row.wait_for()
    row.click()
    page.locator(f"#cz-status .cz-job[data-job='{job_id}']").wait_for()

    page.locator("#cz-reuse").click()
    page.locator("#cz-tab-generate").wait_for(state="visible")
    assert page.locator("#cz-generate-prompt textarea").input_value() == "sunny reggae with organ"
    page.wait_for_function(f"document.querySelector('#cz-generate-seed input').value === '{seed}'")
    assert page.locator("#cz-generate-lock input").is_checked()

    open_tab(page, "Edit")
    choose(page, "#cz-edit-previous", job_id[:8])
    set_number(page, "#cz-edit-start", 3.1)
    set_number(page, "#cz-edit-end", 8.9)
    page.click("#cz-edit-run")
    edited = finished_job(page, other_than=job_id)
    assert "snapped to bar lines" in edited.inner_text()
    assert abs(loaded_duration(page) - 16.0) < 0.5
    page.close()


def test_a_long_job_can_be_cancelled(browser, studio: Server) -> None:
    page = open_studio(browser, studio)
    page.locator("#cz-generate-prompt textarea").fill("epic cinematic score")
    set_number(page, "#cz-generate-duration", 300)
    page.click("#cz-generate-run")
    page.locator("#cz-status .cz-job[data-status=running], #cz-status .cz-job[data-status=queued]").first.wait_for()
    page.click("#cz-cancel")
    assert "cancelled" in finished_job(page, "cancelled").inner_text()
    page.close()


def test_bad_input_shows_a_readable_error_next_to_its_form(browser, studio: Server) -> None:
    page = open_studio(browser, studio)
    page.locator("#cz-generate-style").get_by_text("Style").first.click()
    page.locator("#cz-generate-key input, #cz-generate-key textarea").first.fill("H minor")
    page.locator("#cz-generate-prompt textarea").fill("bad key")
    page.click("#cz-generate-run")
    error = page.locator("#cz-generate-error .cz-error-text")
    error.wait_for()
    assert "key" in error.inner_text() and "Traceback" not in page.content()

    open_tab(page, "Edit")
    page.click("#cz-edit-run")
    missing = page.locator("#cz-edit-error .cz-error-text")
    missing.wait_for()
    assert "upload an audio file or pick a previous result" in missing.inner_text()
    page.close()


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots_and_no_horizontal_scrolling(browser, studio: Server, name: str, viewport) -> None:
    page = open_studio(browser, studio, viewport)
    page.locator("#cz-generate-prompt textarea").fill("warm lofi hip hop, rainy night, rhodes and vinyl crackle")
    set_number(page, "#cz-generate-duration", 10)
    page.click("#cz-generate-run")
    finished_job(page)
    page.locator("#cz-player a[download]").first.wait_for()
    assert no_horizontal_overflow(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"studio-{name}.png"))
    if name == "phone":  # on a phone the result panel sits below the form
        page.locator("#cz-status").scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / "studio-phone-result.png"))
    for tab in ("Edit", "History"):
        open_tab(page, tab)
        assert no_horizontal_overflow(page), f"{tab} scrolls sideways at {viewport['width']} px"
    page.close()


def test_write_lyrics_fills_the_box_and_variations_become_takes(browser, studio: Server) -> None:
    page = open_studio(browser, studio)
    page.locator("#cz-generate-prompt textarea").fill("a rainy night in Lisbon")
    page.locator("#cz-generate-lyrics-box").get_by_text("Lyrics").first.click()
    page.click("#cz-generate-write")
    page.wait_for_function("document.querySelector('#cz-generate-lyrics textarea').value.includes('[Chorus]')")
    # The box fills a moment before Gradio closes the event, whose last message could refill a box cleared
    # in between: clear it only once the event is over.
    page.wait_for_function("!document.querySelector('#cz-generate-lyrics .generating')")
    lyrics = page.locator("#cz-generate-lyrics textarea")
    lyrics.fill("")  # sung lyrics need minutes; takes are quicker without
    page.locator("#cz-generate-style").get_by_text("Style").first.click()
    set_number(page, "#cz-generate-n", 2)
    set_number(page, "#cz-generate-duration", 12)
    assert lyrics.input_value() == ""
    page.click("#cz-generate-run")
    page.wait_for_function("document.querySelectorAll('#cz-status .cz-job').length === 2")
    page.wait_for_function("document.querySelectorAll('#cz-status .cz-job[data-status=succeeded]').length === 2")
    takes = page.locator("#cz-takes input[type=radio]")
    takes.nth(1).wait_for()
    assert takes.count() == 2
    takes.nth(1).check()
    second = page.locator("#cz-status .cz-job").nth(0)
    page.wait_for_function("document.querySelectorAll('#cz-status .cz-job').length === 1")
    assert second.get_attribute("data-status") == "succeeded"
    assert abs(loaded_duration(page) - 12.0) < 0.5
    page.close()


def test_a_neural_engine_with_its_advanced_parameters(browser, tmp_path: Path) -> None:
    """The ACE-Step engine picked in the studio, its batch seeds set in the Advanced accordion drawn from
    its schema; ACE-Step's server is the documented stand-in (tests/engines/acestep_standin.py)."""
    from tests.engines.acestep_standin import Running, StandIn

    standin = StandIn()
    with Running(standin) as acestep:
        server = Server(tmp_path / "home", ui=True, env={"CADENZA_ACESTEP_URL": acestep.url}).start()
        try:
            page = open_studio(browser, server)
            page.locator("#cz-generate-prompt textarea").fill("synthwave, female vocals")
            choose(page, "#cz-generate-engine", "acestep")
            page.locator("#cz-generate-advanced").get_by_text("Advanced").first.click()
            seeds = page.locator("#cz-generate-advanced").get_by_label("Batch Seeds")
            seeds.fill("3, 4")
            seeds.press("Tab")
            set_number(page, "#cz-generate-duration", 10)
            page.click("#cz-generate-run")
            finished_job(page)
            page.locator("#cz-downloads").get_by_text(re.compile(r"_take-2$")).first.wait_for()
            assert abs(loaded_duration(page) - 10.0) < 0.1
            page.close()
        finally:
            server.stop()
    (task,) = standin.tasks.values()
    assert task.fields["seed"] == "3,4" and task.fields["task_type"] == "text2music"
