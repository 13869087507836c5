"""Score -> one stereo stem per track -> a mix: sampled instruments, panning, reverb, then the master bus.

Everything up to the master bus is linear per stem, so the stems, summed, are the mix before the bus.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np

from cadenza.engines.procedural import singer, synth, synth_voices
from cadenza.engines.procedural.score import Score, Track
from cadenza.engines.procedural.soundfont import Renderer

SAMPLE_RATE = 44100
CHUNK_SECONDS = 0.5  # cancellation is checked at least this often (in rendered audio)
FADE_OUT_SECONDS = 1.5
FADE_IN_SECONDS = 0.005
VINYL_LOOP_SECONDS = 7.3

Check = Callable[[], None]


@cache
def _soundfont(path: Path):
    import tinysoundfont

    instance = tinysoundfont.Synth(samplerate=SAMPLE_RATE, gain=-6.0)
    instance.sfload(str(path), max_voices=192)
    return instance


def frames_at(seconds: float) -> int:
    """The frame at `seconds`, rounding halves up."""
    return math.floor(seconds * SAMPLE_RATE + 0.5)


def _events(track: Track, score: Score, frames: int) -> list[tuple[int, int, int, int]]:
    """(frame, order, pitch, velocity): note-offs sort before note-ons at the same frame."""
    events = []
    for note in track.notes:
        on = round(score.seconds(note.start) * SAMPLE_RATE)
        off = round(score.seconds(note.start + note.duration) * SAMPLE_RATE)
        if on >= frames:
            continue
        events.append((on, 1, note.pitch, note.velocity))
        events.append((min(max(off, on + 1), frames - 1), 0, note.pitch, 0))
    events.sort()
    return events


def render_track_soundfont(
    track: Track, score: Score, soundfont: Path, out: np.ndarray, check: Check, program: int | None = None
) -> None:
    """Play one track through the SoundFont into `out` ((frames, 2) float32, overwritten)."""
    player = _soundfont(soundfont)
    player.sounds_off()
    # voices of the previous track still releasing would leak into this one: let them die in a scratch buffer
    player.generate_simple(SAMPLE_RATE * 3, buffer=memoryview(np.zeros((SAMPLE_RATE * 3, 2), np.float32)).cast("B"))
    channel = 9 if track.is_drum else 0
    program = track.program if program is None else program
    player.program_select(channel, 0, 128 if track.is_drum else 0, 0 if track.is_drum else program, track.is_drum)
    frames = len(out)
    chunk = int(CHUNK_SECONDS * SAMPLE_RATE)
    position = 0

    def advance(until: int) -> None:
        nonlocal position
        while position < until:
            step = min(until - position, chunk)
            player.generate_simple(step, buffer=memoryview(out[position : position + step]).cast("B"))
            position += step
            check()

    for frame, is_on, pitch, velocity in _events(track, score, frames):
        advance(frame)
        if is_on:
            player.noteon(channel, pitch, velocity)
        else:
            player.noteoff(channel, pitch)
    advance(frames)
    player.sounds_off()


def render_track(track: Track, score: Score, renderer: Renderer, out: np.ndarray, check: Check) -> None:
    """One track into `out`: sung, synthesised or sampled, then DC-blocked and tilted to the genre's tone."""
    frames = len(out)
    if track.role == "vocal" and any(n.lyric for n in track.notes):
        out[:] = singer.sing_track(track, score, SAMPLE_RATE, frames, check)
    elif track.synth in synth_voices.VOICES or (track.is_drum and track.synth in synth_voices.KITS):
        out[:] = synth_voices.render_track(track, score, SAMPLE_RATE, frames, check)
    elif renderer.kind == "soundfont" and renderer.soundfont is not None:
        clean_guitar = 27 if track.synth == "highgain" else None
        render_track_soundfont(track, score, renderer.soundfont, out, check, clean_guitar)
    else:
        out[:] = synth.render_track(track, score, SAMPLE_RATE, frames, check)
    if track.synth == "highgain":
        out[:] = synth_voices.high_gain(out, SAMPLE_RATE)
    synth_voices.dc_block(out, SAMPLE_RATE, out=out)
    if track.role in HARMONY_ROLES:  # nothing of theirs lives below 40 Hz: what is there is a step or a thump
        _high_pass(out, out=out)
    if score.brightness and track.role != "vocal":
        tilt(out, score.brightness)


HARMONY_ROLES = ("chords", "pad", "arp", "lead")


@cache
def _high_pass_sos() -> np.ndarray:
    from scipy.signal import butter

    return butter(2, 40.0, btype="highpass", fs=SAMPLE_RATE, output="sos")


def _high_pass(audio: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    from cadenza.media.filters import sosfilt_into

    return sosfilt_into(_high_pass_sos(), audio, out)


def tilt(audio: np.ndarray, db_per_octave: float) -> None:
    """In place: shelves that tilt the spectrum around 1 kHz (+ brighter), a linear filter per stem."""
    import pedalboard

    gain = float(np.clip(db_per_octave * 2.0, -9.0, 9.0))
    board = pedalboard.Pedalboard(
        [
            pedalboard.LowShelfFilter(cutoff_frequency_hz=300, gain_db=-gain),
            pedalboard.HighShelfFilter(cutoff_frequency_hz=3000, gain_db=gain),
        ]
    )
    audio[:] = board(audio, SAMPLE_RATE)  # (frames, channels) in and out: pedalboard reads the layout


def vinyl(out: np.ndarray, rng: np.random.Generator) -> None:
    """Record-surface texture into `out`: soft filtered hiss and sparse crackles, as a seamless loop of a
    few seconds (the way producers lay a vinyl sample under a beat) repeated to the song's length."""
    from scipy.signal import lfilter

    loop = min(len(out), int(VINYL_LOOP_SECONDS * SAMPLE_RATE))
    hiss = lfilter([0.05], [1, -0.95], rng.standard_normal((loop, 2)), axis=0) * 0.03
    crackle = np.zeros((loop, 2))
    clicks = rng.integers(0, loop, size=max(1, loop // 4000))
    crackle[clicks] = rng.uniform(-0.25, 0.25, size=(len(clicks), 1)) * rng.uniform(0.6, 1.0, size=(len(clicks), 2))
    texture = (hiss + lfilter([1, -0.6], [1], crackle, axis=0)).astype(np.float32)
    for start in range(0, len(out), loop):
        out[start : start + loop] = texture[: len(out) - start]


def place(audio: np.ndarray, track_pan: float, gain_db: float) -> None:
    """Gain and constant-power panning (unity at centre), in place."""
    angle = (track_pan + 1) * np.pi / 4
    gain = 10 ** (gain_db / 20)
    gains = np.array([np.sqrt(2) * np.cos(angle) * gain, np.sqrt(2) * np.sin(angle) * gain], dtype=np.float32)
    for channel, channel_gain in enumerate(gains):  # a column at a time: broadcasting over 2 columns is 6x slower
        audio[:, channel] *= channel_gain


def fade(audio: np.ndarray) -> None:
    """In place: a 5 ms fade-in, and a squared cosine fade over the last 1.5 s so the song ends in silence."""
    frames = len(audio)
    fade_in = min(frames, int(FADE_IN_SECONDS * SAMPLE_RATE))
    audio[:fade_in] *= np.linspace(0, 1, fade_in, dtype=np.float32)[:, None]
    fade_out = min(frames, int(FADE_OUT_SECONDS * SAMPLE_RATE))
    # squared, so the level falls steadily to silence in the last half second rather than lingering
    curve = (0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fade_out))) ** 2
    audio[frames - fade_out :] *= curve.astype(np.float32)[:, None]


def _accumulate(total: np.ndarray, part: np.ndarray, scale: float = 1.0) -> None:
    """total += scale * part, in one pass and without a temporary (BLAS saxpy on the flat buffers)."""
    from scipy.linalg.blas import saxpy

    saxpy(part.reshape(-1), total.reshape(-1), a=scale)


def render_song(
    score: Score,
    renderer: Renderer,
    rng: Callable[..., np.random.Generator],
    write_stem: Callable[[str, np.ndarray], None],
    progress: Callable[[float], None],
    check: Check,
) -> np.ndarray:
    """Render, place and fade every track, hand each stem to `write_stem`, and return their sum.

    Reverb is one shared return fed by each track's send (it is linear, so one pass over the summed
    sends equals a reverb per track) and is delivered as its own `reverb` stem: the stems, summed,
    are exactly the mix before the master bus. `write_stem` must copy what it keeps: the buffer is
    reused for the next track, because touching new memory is a large share of a long song's cost.
    """
    frames = frames_at(score.length_seconds)
    dry = np.zeros((frames, 2), dtype=np.float32)
    premix = np.zeros((frames, 2), dtype=np.float32)
    sends = np.zeros((frames, 2), dtype=np.float32)
    any_send = False
    steps = len(score.tracks) + len(score.textures) + 1
    for index, track in enumerate(score.tracks):
        render_track(track, score, renderer, dry, check)
        place(dry, track.pan, track.gain_db)
        fade(dry)
        write_stem(track.name, dry)
        _accumulate(premix, dry)
        if track.reverb > 0:
            _accumulate(sends, dry, track.reverb)
            any_send = True
        progress((index + 1) / steps)
    for texture in score.textures:
        if texture == "vinyl":
            vinyl(dry, rng("texture", "vinyl"))
            fade(dry)
            write_stem("vinyl", dry)
            _accumulate(premix, dry)
    check()
    if any_send:
        import pedalboard

        room = 0.75 if score.bpm < 80 else 0.55
        effect = pedalboard.Reverb(room_size=room, damping=0.5, wet_level=1.0, dry_level=0.0, width=1.0)
        wet = effect(sends, SAMPLE_RATE)  # (frames, channels) in and out: pedalboard reads the layout
        del sends
        fade(wet)
        write_stem("reverb", wet)
        _accumulate(premix, wet)
    progress(1.0)
    return premix


def mixdown(stems: dict[str, np.ndarray]) -> np.ndarray:
    total = np.zeros_like(next(iter(stems.values())))
    for audio in stems.values():
        _accumulate(total, np.ascontiguousarray(audio, dtype=np.float32))
    return total


def bus_compress(mix: np.ndarray) -> np.ndarray:
    """Gentle glue compression on the master bus (the one non-linear step before mastering).

    `mix` ((frames, 2) float32) is used as scratch: its DC-blocked copy is written over it.
    """
    import pedalboard

    compressor = pedalboard.Compressor(threshold_db=-20.0, ratio=2.0, attack_ms=15.0, release_ms=180.0)
    # The bus's DC blockers: before, and after, since gain riding an asymmetric wave (a saturated sub) shifts it.
    squeezed = compressor(synth_voices.dc_block(mix, SAMPLE_RATE, out=mix), SAMPLE_RATE)
    return synth_voices.dc_block(squeezed, SAMPLE_RATE, out=squeezed)
