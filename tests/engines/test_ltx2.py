"""The ltx engine with a tiny random LTX-2 pipeline (video and its own sound; Gemma 3 text encoder
and tokenizer built here), loaded through --model DIR: the sound becomes an artifact and the MP4's AAC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("diffusers")

from cadenza.engines.base import RunContext, SourceFile
from cadenza.engines.ltx import LtxEngine
from cadenza.media.video import probe, read_frames, write_image
from cadenza.tasks.video import I2VRequest, KeyframeRequest, T2VRequest
from tests.engines.tiny_models import tiny_ltx2

pytestmark = pytest.mark.slow
SIZE = {"width": 96, "height": 64, "frames": 17, "preset": "fast"}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_ltx2(tmp_path_factory.mktemp("models") / "tiny-ltx2")


def run(model: Path, scratch: Path, request_type: type, inputs=None, **fields):
    scratch.mkdir()
    request = request_type(**{**SIZE, **fields}, advanced={"model": str(model)})
    return LtxEngine().run(request, RunContext(seed=3, scratch=scratch, device="cpu", inputs=inputs or {}))


def test_t2v_makes_video_with_its_own_sound_in_the_mp4(model: Path, tmp_path: Path) -> None:
    output = run(model, tmp_path / "a", T2VRequest, prompt="a drummer on a rooftop")
    roles = {a.role: a for a in output.artifacts}
    assert list(roles) == ["video", "poster", "audio", "recipe"]
    info = probe(roles["video"].path, count_frames=True)
    assert (info.video_codec, info.pix_fmt, info.frames, info.width, info.height) == ("h264", "yuv420p", 17, 96, 64)
    assert info.audio_codec == "aac" and abs(info.audio_duration_s - 17 / 24) < 0.05
    sound, rate = sf.read(roles["audio"].path)
    assert rate == 16000 and sound.shape[1] == 2 and np.abs(sound).max() > 0
    assert output.recipe["family"] == "LTX-2" and output.recipe["model"]["id"] == "tiny-ltx2"


def test_i2v_and_keyframes_follow_their_images(model: Path, tmp_path: Path) -> None:
    def picture(name: str, colour: tuple[int, int, int]) -> SourceFile:
        return SourceFile(write_image(np.full((64, 96, 3), colour, np.uint8), tmp_path / f"{name}.png"), name)

    red, blue = picture("red", (220, 20, 20)), picture("blue", (20, 20, 220))

    def first_frames(name: str, source: SourceFile) -> np.ndarray:
        output = run(model, tmp_path / name, I2VRequest, image="u1", prompt="x", inputs={"image": source})
        return np.stack(list(read_frames(output.artifacts[0].path))).astype(np.float32)

    from_red, from_blue = first_frames("r", red), first_frames("b", blue)
    assert from_red.shape == (17, 64, 96, 3) and np.abs(from_red[0] - from_blue[0]).mean() > 1.0
    keyframe = run(model, tmp_path / "k", KeyframeRequest, first_frame="u1", last_frame="u2", prompt="x",
                   inputs={"first_frame": red, "last_frame": blue})  # fmt: skip
    assert probe(keyframe.artifacts[0].path, count_frames=True).frames == 17
