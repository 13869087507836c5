"""The lead vocal sung with words: eSpeak NG speaks each word, WORLD re-pitches and re-times it.

For each word eSpeak's speech is analysed once with the WORLD vocoder (F0, spectral envelope,
aperiodicity) and cut into syllables at its vowel nuclei. Each syllable is then laid on its notes: the
onset consonants keep about their spoken length, the vowel is stretched to fill the note, the coda
closes it. The F0 follows the written notes (legato glides between the notes of one syllable, a
delayed vibrato on long notes), and a phrase (syllables with no rest between them) is synthesised in
one pass, with a soft breath before it. The voice's register, eSpeak variant and a formant shift give
its timbre.

from cadenza.engines.procedural.singer import sing_track
mono = sing_track(score.tracks[-1], score, 44100, frames, lambda: None)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from cadenza.engines.procedural import speech
from cadenza.engines.procedural.score import Note, Score, Track

FRAME_MS = 5.0
GLIDE_S = 0.045  # portamento between the notes of one syllable
VIBRATO_HZ = 5.4
VIBRATO_CENTS = 22.0
VIBRATO_DELAY_S = 0.25
ONSET_SHARE = 0.35  # consonants before the vowel take at most this share of a syllable
CODA_SHARE = 0.3
PHRASE_GAP_S = 0.18  # a rest at least this long ends a phrase
BREATH_S = 0.28
ATTACK_S = 0.02  # a slight articulation at each new syllable, so syllables stay audible in legato


@dataclass(frozen=True)
class Voice:
    name: str
    low: int  # MIDI range the melody is written in
    high: int
    variant: str  # eSpeak NG voice variant
    formant: float  # spectral-envelope warp: > 1 brighter and smaller, < 1 darker and larger


VOICES = {
    "soprano": Voice("soprano", 60, 79, "f3", 1.12),
    "alto": Voice("alto", 55, 74, "f2", 1.05),
    "tenor": Voice("tenor", 48, 67, "m3", 1.0),
    "baritone": Voice("baritone", 43, 62, "m1", 0.93),
}
TIMBRES = {"clear": (1.0, 0.0), "warm": (0.95, 0.05), "bright": (1.07, 0.0), "breathy": (1.0, 0.35)}


@dataclass
class _Syllable:
    text: str
    notes: list[Note]  # one, or several sung legato (a melisma)


@dataclass
class _Word:
    syllables: list[_Syllable]

    @property
    def text(self) -> str:
        return "".join(s.text.rstrip("-") for s in self.syllables)


@dataclass(frozen=True)
class _Analysis:
    f0: np.ndarray
    sp: np.ndarray
    ap: np.ndarray
    cuts: tuple[tuple[int, int, int, int], ...]  # per syllable: start, vowel start, vowel end, end (frames)


def _words(track: Track) -> list[_Word]:
    """Notes grouped into syllables (a note without a lyric continues the previous syllable) and words."""
    words: list[_Word] = []
    open_word = False
    for note in sorted(track.notes, key=lambda n: n.start):
        if note.lyric is None:
            if words:
                words[-1].syllables[-1].notes.append(note)
            continue
        syllable = _Syllable(note.lyric, [note])
        if open_word:
            words[-1].syllables.append(syllable)
        else:
            words.append(_Word([syllable]))
        open_word = note.lyric.endswith("-")
    return words


def _nuclei(phonemes: tuple[speech.Phoneme, ...]) -> list[tuple[int, int]]:
    """(first, last) phoneme index of each run of vowels."""
    runs: list[tuple[int, int]] = []
    for index, phoneme in enumerate(phonemes):
        if phoneme.is_vowel:
            if runs and runs[-1][1] == index - 1:
                runs[-1] = (runs[-1][0], index)
            else:
                runs.append((index, index))
    return runs


def _cut_points(spoken: speech.Spoken, count: int, frames: int) -> tuple[tuple[int, int, int, int], ...]:
    """Syllable boundaries in WORLD frames: split between vowel nuclei, one consonant to the next onset."""
    per_frame = spoken.sample_rate * FRAME_MS / 1000
    starts = [p.start for p in spoken.phonemes] + [len(spoken.audio)]

    def frame(sample: int) -> int:
        return min(frames, max(0, round(sample / per_frame)))

    nuclei = _nuclei(spoken.phonemes)
    if not nuclei:  # no vowel heard: the middle third is the "vowel"
        nuclei = [(0, len(spoken.phonemes) - 1)] if spoken.phonemes else []
    if len(nuclei) > count:  # merge the shortest neighbours until the counts agree
        while len(nuclei) > count:
            gaps = [starts[nuclei[i + 1][0]] - starts[nuclei[i][1] + 1] for i in range(len(nuclei) - 1)]
            i = int(np.argmin(gaps))
            nuclei[i : i + 2] = [(nuclei[i][0], nuclei[i + 1][1])]
    spans = []
    for first, last in nuclei:
        spans.append([frame(starts[first]), frame(starts[last + 1])])
    while len(spans) < count:  # more syllables written than heard: split the longest vowel
        i = max(range(len(spans)), key=lambda j: spans[j][1] - spans[j][0]) if spans else 0
        if not spans:
            spans = [[frames // 3, 2 * frames // 3]]
            continue
        a, b = spans[i]
        middle = (a + b) // 2
        spans[i : i + 1] = [[a, middle], [middle, b]]
    bounds = [0]
    for (_, end_a), (start_b, _) in itertools.pairwise(spans):
        consonants = [frame(s) for s in starts if end_a <= frame(s) < start_b]
        bounds.append(consonants[-1] if consonants else (end_a + start_b) // 2)
    bounds.append(frames)
    return tuple(
        (bounds[i], max(bounds[i], spans[i][0]), min(bounds[i + 1], max(spans[i][1], spans[i][0] + 1)), bounds[i + 1])
        for i in range(count)
    )


@cache
def _analyse(word: str, count: int, language: str, variant: str) -> _Analysis:
    """WORLD features of the spoken word, trimmed of silence, and its syllable cuts (cached per word)."""
    import pyworld

    spoken = speech.speak(word, language, variant)
    audio = spoken.audio.astype(np.float64)
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    end = min(len(audio), (loud[-1] + 1) if len(loud) else len(audio))
    audio = audio[:end] if end > 0 else np.zeros(spoken.sample_rate // 10)
    fs = spoken.sample_rate
    f0, t = pyworld.dio(audio, fs, f0_floor=60.0, f0_ceil=500.0, frame_period=FRAME_MS)
    f0 = pyworld.stonemask(audio, f0, t, fs)
    sp = pyworld.cheaptrick(audio, f0, t, fs)
    ap = pyworld.d4c(audio, f0, t, fs)
    trimmed = speech.Spoken(audio.astype(np.float32), fs, spoken.phonemes)
    return _Analysis(f0, sp, ap, _cut_points(trimmed, count, len(f0)))


def _warp(sp: np.ndarray, factor: float) -> np.ndarray:
    """The spectral envelope with its formants moved by `factor` along the frequency axis."""
    if abs(factor - 1.0) < 1e-3:
        return sp
    bins = np.arange(sp.shape[1])
    source = np.clip(bins / factor, 0, sp.shape[1] - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, sp.shape[1] - 1)
    weight = source - low
    return sp[:, low] * (1 - weight) + sp[:, high] * weight


def _frame_map(cut: tuple[int, int, int, int], out_frames: int) -> np.ndarray:
    """Input frame for each output frame: consonants at about spoken speed, the vowel stretched."""
    start, vowel_start, vowel_end, end = cut
    onset = min(vowel_start - start, round(out_frames * ONSET_SHARE))
    coda = min(end - vowel_end, round(out_frames * CODA_SHARE))
    vowel = max(1, out_frames - onset - coda)
    return np.concatenate(
        [
            np.linspace(start, vowel_start, onset, endpoint=False),
            np.linspace(vowel_start, max(vowel_start, vowel_end - 1), vowel),
            np.linspace(vowel_end, max(vowel_end, end - 1), coda),
        ]
    )[:out_frames]


def _close_gaps(mask: np.ndarray, longest: int) -> np.ndarray:
    """`mask` with runs of False no longer than `longest` frames between two Trues filled in."""
    filled = mask.copy()
    true = np.flatnonzero(mask)
    for a, b in itertools.pairwise(true):
        if 1 < b - a <= longest + 1:
            filled[a:b] = True
    return filled


def _pitch_curve(notes: list[Note], score: Score, origin: float, frames: int) -> np.ndarray:
    """F0 in Hz per output frame from `origin` seconds: each note's pitch, glides between, vibrato."""
    times = origin + np.arange(frames) * FRAME_MS / 1000
    semitones = np.full(frames, float(notes[0].pitch))
    vibrato = np.zeros(frames)
    for note in notes:
        start, end = score.seconds(note.start), score.seconds(note.start + note.duration)
        inside = (times >= start) & (times < end)
        semitones[times >= start] = note.pitch
        since = times[inside] - start
        ramp = np.clip((since - VIBRATO_DELAY_S) / 0.3, 0, 1)
        vibrato[inside] = ramp * VIBRATO_CENTS / 100 * np.sin(2 * np.pi * VIBRATO_HZ * since)
    glide = max(1, round(GLIDE_S * 1000 / FRAME_MS))
    if len(notes) > 1:
        kernel = np.ones(glide) / glide
        semitones = np.convolve(np.pad(semitones, (glide // 2, glide - 1 - glide // 2), mode="edge"), kernel, "valid")
    return 440.0 * 2 ** ((semitones + vibrato - 69) / 12)


def _phrases(words: list[_Word], score: Score) -> list[list[_Word]]:
    phrases: list[list[_Word]] = []
    last_end = -math.inf
    for word in words:
        first = word.syllables[0].notes[0]
        if score.seconds(first.start) - last_end >= PHRASE_GAP_S or not phrases:
            phrases.append([])
        phrases[-1].append(word)
        final = word.syllables[-1].notes[-1]
        last_end = score.seconds(final.start + final.duration)
    return phrases


def _sing_phrase(
    phrase: list[_Word], score: Score, voice: Voice, timbre: tuple[float, float], language: str
) -> tuple[float, np.ndarray, int]:
    """(start seconds, mono audio, sample rate) of one phrase."""
    import pyworld

    origin = score.seconds(phrase[0].syllables[0].notes[0].start)
    final = phrase[-1].syllables[-1].notes[-1]
    total = max(1, round((score.seconds(final.start + final.duration) - origin) * 1000 / FRAME_MS))
    sample_rate = speech.speak("a", language, voice.variant).sample_rate
    width = pyworld.get_cheaptrick_fft_size(sample_rate) // 2 + 1
    f0 = np.zeros(total)
    sp = np.full((total, width), 1e-12)
    ap = np.ones((total, width))
    gain = np.ones(total)
    for word in phrase:
        analysis = _analyse(word.text, len(word.syllables), language, voice.variant)
        for syllable, cut in zip(word.syllables, analysis.cuts, strict=True):
            first, last = syllable.notes[0], syllable.notes[-1]
            a = round((score.seconds(first.start) - origin) * 1000 / FRAME_MS)
            b = min(total, round((score.seconds(last.start + last.duration) - origin) * 1000 / FRAME_MS))
            if b <= a:
                continue
            source = np.clip(np.round(_frame_map(cut, b - a)).astype(int), 0, len(analysis.f0) - 1)
            n = len(source)
            sp[a : a + n] = analysis.sp[source] * (first.velocity / 100) ** 2
            ap[a : a + n] = np.clip(analysis.ap[source] + timbre[1] * (1 - analysis.ap[source]) * 0.5, 0, 1)
            voiced = _close_gaps(analysis.f0[source] > 0, 4)
            vowel = (source >= cut[1]) & (source < cut[2])
            curve = _pitch_curve(syllable.notes, score, origin + a * FRAME_MS / 1000, n)
            f0[a : a + n] = np.where(voiced | vowel, curve, 0.0)
            attack = max(1, round(ATTACK_S * 1000 / FRAME_MS))
            gain[a : a + min(attack, n)] = np.linspace(0.35, 1.0, min(attack, n))
    sp = _warp(sp, voice.formant * timbre[0]) * gain[:, None] ** 2
    audio = pyworld.synthesize(
        np.ascontiguousarray(f0), np.ascontiguousarray(sp), np.ascontiguousarray(ap), sample_rate, FRAME_MS
    )
    return origin, audio.astype(np.float32), sample_rate


def _breath(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A soft in-breath: band-passed noise swelling and fading."""
    from scipy.signal import butter, sosfilt

    length = int(seconds * sample_rate)
    sos = butter(2, [900, 5000], btype="bandpass", fs=sample_rate, output="sos")
    noise = sosfilt(sos, rng.standard_normal(length))
    envelope = np.sin(np.linspace(0, np.pi, length)) ** 2
    return (noise * envelope * 0.012).astype(np.float32)


def sing_track(track: Track, score: Score, sample_rate: int, frames: int, check: Callable[[], None]) -> np.ndarray:
    """Stereo float32 audio of the vocal track, `frames` long, singing each note's syllable."""
    from scipy.signal import resample_poly

    voice = VOICES.get(score.voice, VOICES["alto"])
    timbre = TIMBRES.get(score.timbre, TIMBRES["clear"])
    mono = np.zeros(frames, dtype=np.float32)
    rng = np.random.default_rng(len(track.notes))
    for phrase in _phrases(_words(track), score):
        origin, audio, rate = _sing_phrase(phrase, score, voice, timbre, score.vocal_language)
        if rate != sample_rate:
            divisor = math.gcd(sample_rate, rate)
            audio = resample_poly(audio, sample_rate // divisor, rate // divisor).astype(np.float32)
        fade = min(len(audio), int(0.01 * sample_rate))
        audio[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
        start = round(origin * sample_rate)
        breath = _breath(BREATH_S, sample_rate, rng)
        if start - len(breath) >= 0 and not mono[start - len(breath) : start].any():
            mono[start - len(breath) : start] += breath
        end = min(frames, start + len(audio))
        if end > start:
            mono[start:end] += audio[: end - start]
        check()
    return np.repeat(mono[:, None], 2, axis=1)
