"""The sung vocal, measured on the dry vocal stem: pitch on the written notes, each line's words (aligned
with eSpeak NG's spoken rendering of them), one voiced segment per syllable, .lrc times on the audio."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from scipy.signal import find_peaks, resample_poly

from cadenza.engines.base import RunContext
from cadenza.engines.procedural import speech
from cadenza.engines.procedural.engine import ProceduralEngine
from cadenza.engines.procedural.singer import VOICES
from cadenza.engines.procedural.vocal import line_syllables, syllabify
from cadenza.errors import InputError
from cadenza.tasks import GenerateRequest

pytest.importorskip("librosa")
pyworld = pytest.importorskip("pyworld")

RATE = 16000  # analysis rate
HOP = 160  # 10 ms frames

LYRICS = """[Verse]
the city sleeps beneath the rain
we walk along the silver light
a tram is singing through the street
and every window starts to glow

[Chorus]
hold on to me tonight
under the yellow light
"""


def sing(tmp: Path, prompt: str, seed: int, lyrics: str = LYRICS, **advanced) -> dict:
    request = GenerateRequest(prompt=prompt, lyrics=lyrics, duration=34, bpm=112, seed=seed, advanced=advanced)
    output = ProceduralEngine().run(request, RunContext(seed=seed, scratch=tmp))
    files = {a.role: a.path for a in output.artifacts}
    audio, rate = sf.read(files["stem:vocal"], dtype="float64")
    mono = resample_poly(audio.mean(axis=1), RATE, rate)
    midi = pretty_midi.PrettyMIDI(str(files["midi"]))
    notes = next(i for i in midi.instruments if i.name == "vocal").notes
    lines = []
    for raw in files["lrc"].read_text().splitlines():
        match = re.match(r"\[(\d+):([\d.]+)\](.*)", raw)
        assert match, raw
        lines.append((int(match[1]) * 60 + float(match[2]), match[3]))
    return {"audio": mono, "notes": notes, "lines": lines, "recipe": output.recipe}


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return sing(tmp_path_factory.mktemp("sung"), "pop ballad, female vocal", seed=3)


def f0_of(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f0, times = pyworld.dio(audio, RATE, f0_floor=70.0, f0_ceil=1000.0, frame_period=10.0)
    return pyworld.stonemask(audio, f0, times, RATE), times


def line_audio(song: dict, index: int) -> np.ndarray:
    """The stem from the line's .lrc time to the end of its last note."""
    start, _ = song["lines"][index]
    following = song["lines"][index + 1][0] if index + 1 < len(song["lines"]) else np.inf
    end = max(n.end for n in song["notes"] if start - 0.01 <= n.start < following - 0.01)
    return song["audio"][int(start * RATE) : int(end * RATE) + HOP * 5]


def voiced_segments(audio: np.ndarray) -> int:
    """Runs of voiced frames (WORLD's F0), each split again where the level dips 6 dB or more."""
    f0, _ = f0_of(audio)
    frames = len(f0)
    level = np.array([np.sqrt(np.mean(audio[k * HOP : (k + 1) * HOP] ** 2) + 1e-12) for k in range(frames)])
    db = np.convolve(20 * np.log10(level), np.ones(3) / 3, "same")
    voiced = (f0 > 0) & (db > db.max() - 35)
    count, k = 0, 0
    while k < frames:
        if not voiced[k]:
            k += 1
            continue
        end = k
        while end < frames and voiced[end]:
            end += 1
        if end - k >= 3:
            peaks, _ = find_peaks(db[k:end], prominence=6)
            count += max(1, len(peaks))
        k = end
    return count


def mfcc(audio: np.ndarray, rate: int) -> np.ndarray:
    """MFCCs 1-19 of the audible frames, mean and variance normalised (c0, the level, left out)."""
    import librosa

    audio = resample_poly(audio, RATE, rate) if rate != RATE else audio
    features = librosa.feature.mfcc(y=audio.astype(np.float32), sr=RATE, n_mfcc=20, n_fft=512, hop_length=HOP)
    level = librosa.feature.rms(y=audio.astype(np.float32), frame_length=512, hop_length=HOP)[0]
    features = features[1:, level > level.max() * 0.03]
    return (features - features.mean(axis=1, keepdims=True)) / (features.std(axis=1, keepdims=True) + 1e-6)


def dtw_cost(sung: np.ndarray, spoken: np.ndarray) -> float:
    import librosa

    cost, path = librosa.sequence.dtw(X=sung, Y=spoken, metric="euclidean")
    return float(cost[-1, -1] / len(path))


def test_pitch_follows_the_written_notes(song) -> None:
    f0, times = f0_of(song["audio"])
    written = np.full(len(times), np.nan)
    for note in song["notes"]:
        written[(times >= note.start) & (times < note.end)] = note.pitch
    voiced = (f0 > 0) & ~np.isnan(written)
    assert voiced.sum() > 800, "too few voiced frames: is the vocal sung at all?"
    cents = 1200 * np.log2(f0[voiced] / (440 * 2 ** ((written[voiced] - 69) / 12)))
    assert np.mean(np.abs(cents) < 50) >= 0.85, np.percentile(np.abs(cents), [50, 80, 90])
    # nothing sung outside the written notes (breaths are unvoiced)
    assert ((f0 > 0) & np.isnan(written)).sum() < 0.03 * voiced.sum()


def test_each_line_sings_its_own_words(song) -> None:
    """Dynamic time warping of MFCCs: a sung line lies closer to eSpeak's spoken rendering of its own words
    than to that of the neighbouring line."""
    variant = VOICES[song["recipe"]["style"]["voice"]].variant
    spoken = [speech.speak(text, "en", variant) for _, text in song["lines"]]
    references = [mfcc(s.audio.astype(np.float64), s.sample_rate) for s in spoken]
    for index in range(len(song["lines"])):
        sung = mfcc(line_audio(song, index), RATE)
        neighbour = index + 1 if index + 1 < len(song["lines"]) else index - 1
        own, other = dtw_cost(sung, references[index]), dtw_cost(sung, references[neighbour])
        assert own < other, (song["lines"][index][1], own, other)


def test_no_syllable_is_dropped(song) -> None:
    for index, (_, text) in enumerate(song["lines"]):
        assert abs(voiced_segments(line_audio(song, index)) - len(line_syllables(text))) <= 1, text


def test_lrc_times_are_when_the_lines_are_heard(song) -> None:
    f0, times = f0_of(song["audio"])
    audio = np.pad(song["audio"], (0, 2 * HOP))
    level = np.array([np.sqrt(np.mean(audio[int(t * RATE) : int(t * RATE) + HOP] ** 2)) for t in times])
    sung = (f0 > 0) & (level > level.max() / 10)  # voiced and within 20 dB of the loudest: not a breath
    for start, text in song["lines"]:
        heard = times[sung & (times >= start - 0.3)][0]
        assert abs(heard - start) < 0.12, (text, start, heard)


def test_the_voice_is_chosen_by_prompt_or_advanced(tmp_path: Path) -> None:
    lyrics = "[Verse]\nwe walk along the silver light\n"
    low = sing(tmp_path / "low", "folk song, deep voice", seed=1, lyrics=lyrics)
    high = sing(tmp_path / "high", "folk song", seed=1, lyrics=lyrics, voice="soprano", timbre="breathy")
    assert low["recipe"]["style"]["voice"] == "baritone"
    assert high["recipe"]["style"]["voice"] == "soprano" and high["recipe"]["style"]["timbre"] == "breathy"
    low_f0, high_f0 = f0_of(low["audio"])[0], f0_of(high["audio"])[0]
    assert np.median(high_f0[high_f0 > 0]) > 1.5 * np.median(low_f0[low_f0 > 0])


def test_other_languages_are_sung(tmp_path: Path) -> None:
    lyrics = "[Verse]\nla luna canta sobre el mar\n"
    spanish = sing(tmp_path, "latin pop", seed=2, lyrics=lyrics, vocal_language="es")
    assert voiced_segments(line_audio(spanish, 0)) >= 8
    with pytest.raises(InputError, match="vocal_language"):
        sing(tmp_path / "x", "latin pop", seed=2, lyrics=lyrics, vocal_language="klingon")


def test_syllables_follow_the_dictionary() -> None:
    assert syllabify("inside") == ["in", "side"]
    assert syllabify("beautiful") == ["beau", "ti", "ful"]
    assert line_syllables("hold on to the window") == ["hold", "on", "to", "the", "win-", "dow"]


def test_every_voice_speaks_the_same_samples_in_a_fresh_process() -> None:
    """A recipe replays to the same bytes: eSpeak's breathy voices mix in noise whose seed would
    otherwise differ from process to process (the alto's f2 did)."""
    import subprocess
    import sys
    import time

    script = (
        "import hashlib, numpy as np\n"
        "from cadenza.engines.procedural import speech\n"
        f"for variant in {[voice.variant for voice in VOICES.values()][::-1] * 2}:\n"
        "    spoken = speech.speak('light on the water, gold in the air', 'en', variant)\n"
        "    print(variant, hashlib.sha256(np.asarray(spoken.audio).tobytes()).hexdigest())\n"
    )
    runs = []
    for _ in "ab":
        runs.append(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
        time.sleep(1.1)  # eSpeak seeds its noise from the clock's seconds
    assert runs[0] == runs[1] and len(runs[0].splitlines()) == 2 * len(VOICES)
