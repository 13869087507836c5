"""Adapters in the studio, in headless Chromium against a real `cadenza serve`: add one in the Adapters
tab, weight it with its slider in MusicGen's Advanced area, and find it pinned in the job's request."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tests.api.conftest import Server
from tests.loras.adapters import musicgen_layers, synthetic_adapter
from tests.ui.test_studio_browser import CHROMIUM, browser, choose, finished_job, open_studio, open_tab, set_number

pytest.importorskip("transformers")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"needs Chromium at {CHROMIUM}")]
__all__ = ["browser"]  # the module-scoped Chromium fixture


def test_add_an_adapter_and_weight_it_in_the_advanced_area(browser, tmp_path: Path) -> None:
    from tests.engines.tiny_models import tiny_musicgen

    tiny_musicgen(tmp_path / "models" / "musicgen-small")
    adapter = synthetic_adapter(tmp_path / "hum.safetensors", musicgen_layers(32))
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"a": 1}))
    env = {"CADENZA_MODELS_DIR": str(tmp_path / "models"), "HF_HUB_CACHE": str(tmp_path / "hf")}
    server = Server(tmp_path / "home", ui=True, env=env).start()
    try:
        page = open_studio(browser, server)
        open_tab(page, "Adapters")
        page.locator("#cz-loras-file input[type=file]").set_input_files(str(evil))
        page.click("#cz-loras-add")
        page.locator("#cz-loras-error").get_by_text("a Python pickle").wait_for()
        page.locator("#cz-loras-file input[type=file]").set_input_files(str(adapter))
        page.locator("#cz-loras-name textarea, #cz-loras-name input").first.fill("hum")
        page.click("#cz-loras-add")
        first_row = page.locator("#cz-loras-table").get_by_test_id("cell-0-1")
        first_row.get_by_text("musicgen", exact=True).wait_for()

        open_tab(page, "Generate")
        page.locator("#cz-generate-prompt textarea").fill("lofi hip hop")
        choose(page, "#cz-generate-engine", "musicgen")
        page.locator("#cz-generate-advanced").get_by_text("Advanced").first.click()
        set_number(page, "#cz-lora-hum", 0.5)
        set_number(page, "#cz-generate-duration", 5)
        page.click("#cz-generate-run")
        job_id = finished_job(page).get_attribute("data-job")
        page.close()
        with server.client() as http:
            job = http.get(f"/api/v1/jobs/{job_id}").json()
            sha = http.get("/api/v1/loras/hum").json()["sha256"]
        assert job["input"]["advanced"]["loras"] == [{"name": "hum", "weight": 0.5, "sha256": sha}]
        assert job["recipe"]["request"]["advanced"]["loras"] == job["input"]["advanced"]["loras"]
    finally:
        server.stop()
