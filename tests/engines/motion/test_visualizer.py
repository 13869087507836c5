"""a2v on a real Cadenza song: the picture kicks on the song's beats, captions follow its .lrc, sound kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cadenza.engines.base import SourceFile
from cadenza.engines.motion.text import read_lrc
from cadenza.media.video import probe
from cadenza.tasks import A2VRequest
from tests.engines.motion.conftest import frames_of, run, video_of

FPS = 30


def test_motion_peaks_on_the_songs_beats(song: SourceFile, tmp_path: Path) -> None:
    request = A2VRequest(audio="song", width=320, height=180, fps=FPS, advanced={"captions": False})
    out = run(request, tmp_path, audio=song)
    frames = frames_of(video_of(out)).astype(np.float32)
    brightness = frames.mean(axis=(1, 2, 3))
    beat = 60.0 / song.recipe["style"]["bpm"] * FPS  # frames per beat
    # Every beat up to the ending (its last two bars ring out one held chord, whose swell can outshine
    # a beat's flash).
    beats = np.round(np.arange(0, len(frames) - 8 * beat, beat)).astype(int)
    assert out.recipe["beats"]["source"] == "recipe" and len(beats) >= 16
    for start in beats[1:]:
        # Within each beat's span, the brightest frame is the beat's own (one frame of slack).
        span = brightness[start - int(beat // 2) : start + int(beat // 2)]
        peak = start - int(beat // 2) + int(np.argmax(span))
        assert abs(peak - start) <= 1, (start, peak)


def test_captions_appear_at_the_lrc_times(song: SourceFile, tmp_path: Path) -> None:
    lines = read_lrc(song.files["lrc"])
    assert len(lines) >= 3
    out = run(A2VRequest(audio="song", width=320, height=180, fps=FPS, prompt="ring"), tmp_path, audio=song)
    frames = frames_of(video_of(out))
    band = frames[:, int(180 * 0.76) : int(180 * 0.92), :, :].min(axis=3)  # white text: every channel high
    lit = (band > 200).sum(axis=(1, 2))
    first = round(lines[0][0] * FPS)
    assert lit[: first - 1].max() < 5, "a caption before the first lyric line"
    for start, _ in lines:
        frame = round(start * FPS)
        if frame + 2 < len(frames):
            assert lit[frame + 1] > 40, (start, lit[frame - 2 : frame + 3])
    # a new line changes the caption: the text pixels differ across each line change
    second = round(lines[1][0] * FPS)
    assert np.abs(band[second + 1].astype(int) - band[second - 2].astype(int)).mean() > 5


def test_the_video_carries_the_whole_song(song: SourceFile, tmp_path: Path) -> None:
    out = run(A2VRequest(audio="song", width=256, height=144, prompt="wave"), tmp_path, audio=song)
    info = probe(video_of(out), count_frames=True)
    seconds = song.recipe["length_seconds"]
    assert (info.video_codec, info.pix_fmt, info.width, info.height, info.fps) == ("h264", "yuv420p", 256, 144, 30)
    assert info.frames == round(seconds * 30)
    assert info.audio_codec == "aac" and abs(info.audio_duration_s - seconds) < 0.05
    roles = {a.role: a for a in out.artifacts}
    assert roles["poster"].mime == "image/png" and roles["recipe"].path.is_file()
    assert out.recipe["look"] == "wave"
