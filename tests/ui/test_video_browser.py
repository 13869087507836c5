"""The studio's Video area in Debian's headless Chromium, driven by Playwright, against a real `cadenza serve`
whose jobs run on the embedded `motion` engine."""

# ruff: noqa: F811  (the browser and studio fixtures come from test_studio_browser)
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.api.conftest import Server
from tests.ui.test_studio_browser import (  # noqa: F401
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    browser,
    finished_job,
    no_horizontal_overflow,
    open_studio,
    open_tab,
    pytestmark,
    set_number,
    studio,
)

MODE_FILES = {
    "t2v": [],
    "i2v": ["image", "audio"],
    "a2v": ["audio", "image"],
    "lipsync": ["image", "audio"],
    "keyframe": ["first-frame", "last-frame"],
    "style": ["video", "control"],
}
TITLES = {"t2v": "Text to video", "i2v": "Image to video", "a2v": "Music video", "lipsync": "Lip sync"}
TITLES |= {"keyframe": "Keyframes", "style": "Restyle"}


def open_video(page) -> None:
    open_tab(page, "Video")
    page.locator("#cz-video-current").wait_for()


def pick_mode(page, task: str) -> None:
    page.locator("#cz-video-mode").get_by_text(TITLES[task], exact=True).click()
    page.locator(f"#cz-video-current[data-mode={task}]").wait_for()


def video_metadata(page, job_id: str) -> dict[str, float]:
    """Load the panel's video afresh, as a browser would, and read its length and size."""
    page.locator(f"#cz-video[data-job='{job_id}']").wait_for()
    return page.evaluate(
        """() => new Promise((resolve, reject) => {
            const video = document.createElement('video');
            video.preload = 'metadata';
            video.addEventListener('loadedmetadata', () =>
                resolve({duration: video.duration, width: video.videoWidth, height: video.videoHeight}));
            video.addEventListener('error', () => reject(new Error('video failed to load')));
            video.src = document.querySelector('#cz-video').getAttribute('src');
        })"""
    )


def png(path: Path, width: int = 320, height: int = 240) -> Path:
    from PIL import Image

    ramp = np.linspace(0, 255, width, dtype=np.uint8)
    pixels = np.stack(
        [np.tile(ramp, (height, 1)), np.full((height, width), 90, np.uint8), np.tile(ramp[::-1], (height, 1))], -1
    )
    Image.fromarray(pixels).save(path)
    return path


def test_every_mode_shows_its_own_inputs_and_an_estimate(browser, studio: Server) -> None:
    page = open_studio(browser, studio)
    open_video(page)
    for task, files in MODE_FILES.items():
        pick_mode(page, task)
        for field in ("image", "audio", "first-frame", "last-frame", "video", "control"):
            shown = page.locator(f"#cz-video-{field}").is_visible()
            assert shown == (field in files), f"{task}: {field} {'hidden' if field in files else 'shown'}"
        engine = page.locator("#cz-video-engine input").first.input_value()
        assert engine == ("ltx (unavailable)" if task == "lipsync" else "motion"), (task, engine)
        estimate = page.locator("#cz-video-estimate .cz-estimate")
        page.wait_for_function(
            "t => document.querySelector('#cz-video-estimate .cz-estimate')?.dataset.task === t", arg=task
        )
        if task != "lipsync":
            assert re.search(r"about \d+ s with motion", estimate.inner_text()), estimate.inner_text()
    page.close()


def test_make_a_video_of_a_song_plays_as_long_as_the_song(browser, studio: Server) -> None:
    page = open_studio(browser, studio)
    open_video(page)
    pick_mode(page, "a2v")
    set_number(page, "#cz-video-width", 320)
    set_number(page, "#cz-video-height", 180)
    set_number(page, "#cz-video-fps", 12)
    open_tab(page, "Generate")
    page.locator("#cz-generate-prompt textarea").fill("bright synthwave with arpeggios")
    set_number(page, "#cz-generate-duration", 8)
    page.click("#cz-generate-run")
    song_id = finished_job(page).get_attribute("data-job")
    page.click("#cz-make-video")
    page.locator("#cz-tab-video").wait_for(state="visible")
    video = finished_job(page, other_than=song_id)
    assert f"from generate {song_id[:8]}" in video.inner_text()
    metadata = video_metadata(page, video.get_attribute("data-job"))
    assert abs(metadata["duration"] - 8.0) < 0.5, metadata
    assert (metadata["width"], metadata["height"]) == (320, 180)
    assert page.locator("#cz-downloads").get_by_text(re.compile(r"\.mp4$")).count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "video-desktop.png"))

    open_tab(page, "History")
    page.locator("#cz-history-task input").first.click()
    page.get_by_role("option", name="a2v", exact=True).click()
    row = page.locator("#cz-history-table").get_by_text(f"generate {song_id[:8]}").filter(visible=True).first
    row.wait_for()
    page.close()


def test_image_to_video_from_an_uploaded_png(browser, studio: Server, tmp_path: Path) -> None:
    page = open_studio(browser, studio)
    open_video(page)
    pick_mode(page, "i2v")
    page.locator("#cz-video-image input[type=file]").set_input_files(str(png(tmp_path / "still.png")))
    page.locator("#cz-video-image img").first.wait_for()
    page.locator("#cz-video-prompt textarea").fill("slow push-in")
    set_number(page, "#cz-video-width", 256)
    set_number(page, "#cz-video-height", 192)
    set_number(page, "#cz-video-duration", 2)
    set_number(page, "#cz-video-fps", 12)
    page.click("#cz-video-run")
    job = finished_job(page)
    metadata = video_metadata(page, job.get_attribute("data-job"))
    assert abs(metadata["duration"] - 2.0) < 0.2 and metadata["width"] == 256, metadata
    page.close()


def test_lipsync_without_a_model_engine_says_why(browser, studio: Server, tmp_path: Path) -> None:
    page = open_studio(browser, studio)
    open_video(page)
    pick_mode(page, "lipsync")
    page.click("#cz-video-run")
    missing = page.locator("#cz-video-error .cz-error-text")
    missing.wait_for()
    assert "image: upload an image or pick a previous result" in missing.inner_text()

    speech = tmp_path / "speech.wav"
    sf.write(speech, 0.2 * np.sin(np.linspace(0, 2 * np.pi * 440 * 2, 2 * 22050)), 22050)
    page.locator("#cz-video-image input[type=file]").set_input_files(str(png(tmp_path / "face.png")))
    page.locator("#cz-video-audio input[type=file]").set_input_files(str(speech))
    page.locator("#cz-video-image img").first.wait_for()
    page.locator("#cz-video-audio audio, #cz-video-audio .waveform-container").first.wait_for(state="attached")
    page.click("#cz-video-run")
    page.wait_for_function("document.querySelector('#cz-video-error .cz-error-text')?.innerText.includes('ltx')")
    reason = page.locator("#cz-video-error .cz-error-text").inner_text()
    assert "engine 'ltx'" in reason and "Traceback" not in page.content(), reason
    page.close()


def test_phone_switches_modes_through_the_drawer(browser, studio: Server) -> None:
    page = open_studio(browser, studio, PHONE)
    open_video(page)
    drawer = page.locator("#cz-video-drawer")
    assert not drawer.is_visible()
    page.click("#cz-video-drawer-toggle")
    drawer.wait_for(state="visible")
    drawer.get_by_text("Keyframes", exact=True).click()
    page.locator("#cz-video-current[data-mode=keyframe]").wait_for()
    drawer.wait_for(state="hidden")
    assert page.locator("#cz-video-first-frame").is_visible()
    assert no_horizontal_overflow(page)

    page.click("#cz-video-drawer-toggle")
    drawer.get_by_text("Text to video", exact=True).click()
    page.locator("#cz-video-current[data-mode=t2v]").wait_for()
    page.locator("#cz-video-prompt textarea").fill("Cadenza")
    set_number(page, "#cz-video-width", 320)
    set_number(page, "#cz-video-height", 180)
    set_number(page, "#cz-video-duration", 2)
    page.click("#cz-video-run")
    job = finished_job(page)
    video_metadata(page, job.get_attribute("data-job"))
    assert no_horizontal_overflow(page), "the Video area scrolls sideways at 390 px"
    page.locator("#cz-status").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "video-phone.png"))
    page.close()
