"""Score -> one stereo stem per track -> a mix: sampled instruments, panning, reverb, then the master bus.

Everything up to the master bus is linear per stem, so the stems, summed, are the mix before the bus.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
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

# About 1.5 s: every stage after the instruments runs on blocks this long. At least one synthesiser call
# (CHUNK_SECONDS) and a multiple of SAXPY_FRAMES, so the sums' BLAS calls fall on the same frames whatever it is.
BLOCK_FRAMES = 1 << 16

Check = Callable[[], None]
Emit = Callable[[np.ndarray], None]  # takes the next consecutive block of a stem


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


def play_soundfont(
    track: Track, score: Score, soundfont: Path, frames: int, emit: Emit, check: Check, program: int | None = None
) -> None:
    """Play one track through the SoundFont, handing `emit` consecutive (BLOCK_FRAMES, 2) float32 blocks
    (the last one shorter) that together are the track's `frames` frames.

    The synthesiser is called exactly as when it rendered into one song-long buffer (the same calls,
    split at the same frames), because its envelopes and filters step from the start of each call:
    only where its output lands changes, so the audio is the same to the bit.
    """
    player = _soundfont(soundfont)
    player.sounds_off()
    # voices of the previous track still releasing would leak into this one: let them die in a scratch buffer
    player.generate_simple(SAMPLE_RATE * 3, buffer=memoryview(np.zeros((SAMPLE_RATE * 3, 2), np.float32)).cast("B"))
    channel = 9 if track.is_drum else 0
    program = track.program if program is None else program
    player.program_select(channel, 0, 128 if track.is_drum else 0, 0 if track.is_drum else program, track.is_drum)
    chunk = int(CHUNK_SECONDS * SAMPLE_RATE)
    block = np.empty((BLOCK_FRAMES, 2), np.float32)
    spill = np.empty((chunk, 2), np.float32)  # a call that straddles a block boundary renders here
    position = 0

    def generate(step: int) -> None:
        nonlocal position
        offset = position % BLOCK_FRAMES
        if offset + step <= BLOCK_FRAMES:
            player.generate_simple(step, buffer=memoryview(block[offset : offset + step]).cast("B"))
        else:
            player.generate_simple(step, buffer=memoryview(spill[:step]).cast("B"))
            head = BLOCK_FRAMES - offset
            block[offset:] = spill[:head]
            emit(block)
            block[: step - head] = spill[head:step]
        position += step
        if position % BLOCK_FRAMES == 0:
            emit(block)
        elif position == frames:
            emit(block[: position % BLOCK_FRAMES])

    def advance(until: int) -> None:
        while position < until:
            generate(min(until - position, chunk))
            check()

    for frame, is_on, pitch, velocity in _events(track, score, frames):
        advance(frame)
        if is_on:
            player.noteon(channel, pitch, velocity)
        else:
            player.noteoff(channel, pitch)
    advance(frames)
    player.sounds_off()


def render_track_soundfont(
    track: Track, score: Score, soundfont: Path, out: np.ndarray, check: Check, program: int | None = None
) -> None:
    """Play one track through the SoundFont into `out` ((frames, 2) float32, overwritten)."""
    written = 0

    def keep(block: np.ndarray) -> None:
        nonlocal written
        out[written : written + len(block)] = block
        written += len(block)

    play_soundfont(track, score, soundfont, len(out), keep, check, program)


def _play(track: Track, score: Score, renderer: Renderer, frames: int, emit: Emit, check: Check) -> None:
    """One track's instrument, sung, synthesised or sampled, as consecutive blocks."""
    if track.role == "vocal" and any(n.lyric for n in track.notes):
        whole = singer.sing_track(track, score, SAMPLE_RATE, frames, check)
    elif track.synth in synth_voices.VOICES or (track.is_drum and track.synth in synth_voices.KITS):
        whole = synth_voices.render_track(track, score, SAMPLE_RATE, frames, check)
    elif renderer.kind == "soundfont" and renderer.soundfont is not None:
        if track.synth != "highgain":
            play_soundfont(track, score, renderer.soundfont, frames, emit, check)
            return
        whole = np.empty((frames, 2), np.float32)
        render_track_soundfont(track, score, renderer.soundfont, whole, check, 27)  # a clean guitar to distort
    else:
        whole = synth.render_track(track, score, SAMPLE_RATE, frames, check)
    if track.synth == "highgain":
        whole = synth_voices.high_gain(np.asarray(whole, dtype=np.float32), SAMPLE_RATE)
    _emit_blocks(np.asarray(whole, dtype=np.float32), emit)


def _emit_blocks(audio: np.ndarray, emit: Emit) -> None:
    for start in range(0, len(audio), BLOCK_FRAMES):
        emit(audio[start : start + BLOCK_FRAMES])


class _TrackChain:
    """What follows a track's instrument, one block at a time with each filter's state carried: DC
    blocker, high-pass (harmony), tilt to the genre's tone, pan and gain, fades.

    Each stage is the whole-song operation it replaced, continued block by block, so the stem is the
    same to the bit while no stage holds more than a block.
    """

    def __init__(self, track: Track, score: Score, frames: int) -> None:
        from scipy.signal import sosfilt

        self._sosfilt = sosfilt
        sections = [synth_voices.dc_block_sos(SAMPLE_RATE)]
        if track.role in HARMONY_ROLES:  # nothing of theirs lives below 40 Hz: what is there is a step or a thump
            sections.append(_high_pass_sos())
        self.filters = [(sos, np.zeros((len(sos), 2, 2))) for sos in sections]  # (sections, filter state)
        self.tilt = _tilt_board(score.brightness) if score.brightness and track.role != "vocal" else None
        self.gains = _pan_gains(track.pan, track.gain_db)
        self.fades = _Fades(frames)

    def __call__(self, block: np.ndarray, start: int) -> None:
        for index, (sos, state) in enumerate(self.filters):
            filtered, state = self._sosfilt(sos, block, axis=0, zi=state)
            self.filters[index] = (sos, state)
            block[:] = filtered
        if self.tilt is not None:
            block[:] = self.tilt(block, SAMPLE_RATE, reset=False)
        for channel, channel_gain in enumerate(self.gains):
            block[:, channel] *= channel_gain
        self.fades(block, start)


HARMONY_ROLES = ("chords", "pad", "arp", "lead")


@cache
def _high_pass_sos() -> np.ndarray:
    from scipy.signal import butter

    return butter(2, 40.0, btype="highpass", fs=SAMPLE_RATE, output="sos")


def _tilt_board(db_per_octave: float):
    """Shelves that tilt the spectrum around 1 kHz (+ brighter), a linear filter per stem."""
    import pedalboard

    gain = float(np.clip(db_per_octave * 2.0, -9.0, 9.0))
    return pedalboard.Pedalboard(
        [
            pedalboard.LowShelfFilter(cutoff_frequency_hz=300, gain_db=-gain),
            pedalboard.HighShelfFilter(cutoff_frequency_hz=3000, gain_db=gain),
        ]
    )


def _vinyl_loop(frames: int, rng: np.random.Generator) -> np.ndarray:
    """Record-surface texture: soft filtered hiss and sparse crackles, as a seamless loop of a few seconds
    (the way producers lay a vinyl sample under a beat), to be repeated to the song's length."""
    from scipy.signal import lfilter

    loop = min(frames, int(VINYL_LOOP_SECONDS * SAMPLE_RATE))
    hiss = lfilter([0.05], [1, -0.95], rng.standard_normal((loop, 2)), axis=0) * 0.03
    crackle = np.zeros((loop, 2))
    clicks = rng.integers(0, loop, size=max(1, loop // 4000))
    crackle[clicks] = rng.uniform(-0.25, 0.25, size=(len(clicks), 1)) * rng.uniform(0.6, 1.0, size=(len(clicks), 2))
    return (hiss + lfilter([1, -0.6], [1], crackle, axis=0)).astype(np.float32)


def _emit_loop(loop: np.ndarray, frames: int, emit: Emit) -> None:
    """`loop` repeated to `frames` frames, as consecutive blocks."""
    block = np.empty((BLOCK_FRAMES, 2), np.float32)
    for start in range(0, frames, BLOCK_FRAMES):
        length = min(BLOCK_FRAMES, frames - start)
        indices = np.arange(start, start + length) % len(loop)
        np.take(loop, indices, axis=0, out=block[:length])
        emit(block[:length])


def _pan_gains(track_pan: float, gain_db: float) -> np.ndarray:
    """Gain and constant-power panning (unity at centre): one float32 factor per channel."""
    angle = (track_pan + 1) * np.pi / 4
    gain = 10 ** (gain_db / 20)
    return np.array([np.sqrt(2) * np.cos(angle) * gain, np.sqrt(2) * np.sin(angle) * gain], dtype=np.float32)


class _Fades:
    """A 5 ms fade-in, and a squared cosine fade over the last 1.5 s so the song ends in silence,
    applied in place to whichever part of a block they cover."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        fade_in = min(frames, int(FADE_IN_SECONDS * SAMPLE_RATE))
        self.ramp = np.linspace(0, 1, fade_in, dtype=np.float32)[:, None]
        fade_out = min(frames, int(FADE_OUT_SECONDS * SAMPLE_RATE))
        # squared, so the level falls steadily to silence in the last half second rather than lingering
        self.curve = ((0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fade_out))) ** 2).astype(np.float32)[:, None]

    def __call__(self, block: np.ndarray, start: int) -> None:
        stop = start + len(block)
        if start < len(self.ramp):
            block[: len(self.ramp) - start] *= self.ramp[start:stop]
        tail = self.frames - len(self.curve)
        if stop > tail:
            block[max(0, tail - start) :] *= self.curve[max(0, start - tail) : stop - tail]


SAXPY_FRAMES = 4096  # 8,192 floats a call: under OpenBLAS's 10,000 for splitting one call across threads


def _accumulate(total: np.ndarray, part: np.ndarray, scale: float = 1.0) -> None:
    """total += scale * part in place, the same in every block and on every machine.

    A plain sum is numpy's add (what BLAS does for scale 1). A scaled one is BLAS saxpy, whose vector
    loop fuses the multiply-add while each call's last few elements are not fused: one call over a whole
    song split itself across the machine's threads, so a few dozen samples mid-song depended on its core
    count. Calls too short to be split, a multiple of the vector width long, fuse everywhere.
    """
    if scale == 1.0:
        np.add(total, part, out=total)
        return
    from scipy.linalg.blas import saxpy

    for start in range(0, len(part), SAXPY_FRAMES):
        saxpy(part[start : start + SAXPY_FRAMES].reshape(-1), total[start : start + SAXPY_FRAMES].reshape(-1), a=scale)


def stream_song(
    score: Score,
    renderer: Renderer,
    rng: Callable[..., np.random.Generator],
    open_stem: Callable[[str], AbstractContextManager[Emit]],
    progress: Callable[[float], None],
    check: Check,
) -> np.ndarray:
    """Render, place and fade every track block by block, writing each stem as it goes, and return
    their sum (the mix before the master bus).

    `open_stem(name)` gives a context whose value takes the stem's consecutive blocks. Reverb is one
    shared return fed by each track's send (it is linear, so one pass over the summed sends equals a
    reverb per track) and is delivered as its own `reverb` stem: the stems, summed, are exactly the mix
    before the master bus. Only the mix and the reverb sends are song-long buffers.
    """
    frames = frames_at(score.length_seconds)
    premix = np.zeros((frames, 2), dtype=np.float32)
    sends = np.zeros((frames, 2), dtype=np.float32)
    any_send = False
    steps = len(score.tracks) + len(score.textures) + 1

    def mixed(write: Emit, chain: Callable[[np.ndarray, int], None] | None, send: float = 0.0) -> Emit:
        position = 0

        def take(block: np.ndarray) -> None:
            nonlocal position
            if chain is not None:
                chain(block, position)
            write(block)
            _accumulate(premix[position : position + len(block)], block)
            if send > 0:
                _accumulate(sends[position : position + len(block)], block, send)
            position += len(block)

        return take

    for index, track in enumerate(score.tracks):
        with open_stem(track.name) as write:
            _play(track, score, renderer, frames, mixed(write, _TrackChain(track, score, frames), track.reverb), check)
        any_send = any_send or track.reverb > 0
        progress((index + 1) / steps)
    for texture in score.textures:
        if texture == "vinyl":
            with open_stem("vinyl") as write:
                _emit_loop(_vinyl_loop(frames, rng("texture", "vinyl")), frames, mixed(write, _Fades(frames)))
    check()
    if any_send:
        import pedalboard

        room = 0.75 if score.bpm < 80 else 0.55
        effect = pedalboard.Reverb(room_size=room, damping=0.5, wet_level=1.0, dry_level=0.0, width=1.0)
        fades = _Fades(frames)

        def reverberate(block: np.ndarray, start: int) -> None:
            block[:] = effect(block, SAMPLE_RATE, reset=False)
            fades(block, start)

        with open_stem("reverb") as write:
            _emit_blocks(sends, mixed(write, reverberate))  # the sends become the return, block by block
    progress(1.0)
    return premix


def render_song(
    score: Score,
    renderer: Renderer,
    rng: Callable[..., np.random.Generator],
    write_stem: Callable[[str, np.ndarray], None],
    progress: Callable[[float], None],
    check: Check,
) -> np.ndarray:
    """`stream_song` for callers that want each stem whole: `write_stem(name, audio)` gets each one
    (a buffer reused for the next stem: copy what you keep)."""
    stem = np.empty((frames_at(score.length_seconds), 2), dtype=np.float32)

    @contextmanager
    def open_stem(name: str) -> Iterator[Emit]:
        position = 0

        def write(block: np.ndarray) -> None:
            nonlocal position
            stem[position : position + len(block)] = block
            position += len(block)

        yield write
        write_stem(name, stem)

    return stream_song(score, renderer, rng, open_stem, progress, check)


def mixdown(stems: dict[str, np.ndarray]) -> np.ndarray:
    total = np.zeros_like(next(iter(stems.values())))
    for audio in stems.values():
        _accumulate(total, np.ascontiguousarray(audio, dtype=np.float32))
    return total


def bus_compress(mix: np.ndarray, in_place: bool = False) -> np.ndarray:
    """Gentle glue compression on the master bus (the one non-linear step before mastering), block by
    block; `in_place` writes it over `mix` ((frames, 2) float32) instead of a copy."""
    import pedalboard
    from scipy.signal import sosfilt

    compressor = pedalboard.Compressor(threshold_db=-20.0, ratio=2.0, attack_ms=15.0, release_ms=180.0)
    # The bus's DC blockers: before, and after, since gain riding an asymmetric wave (a saturated sub) shifts it.
    blocker = synth_voices.dc_block_sos(SAMPLE_RATE)
    before, after = np.zeros((len(blocker), 2, 2)), np.zeros((len(blocker), 2, 2))
    mix = mix if in_place else np.array(mix, dtype=np.float32)
    for start in range(0, len(mix), BLOCK_FRAMES):
        block = mix[start : start + BLOCK_FRAMES]
        filtered, before = sosfilt(blocker, block, axis=0, zi=before)
        block[:] = filtered
        block[:] = compressor(block, SAMPLE_RATE, reset=False)
        filtered, after = sosfilt(blocker, block, axis=0, zi=after)
        block[:] = filtered
    return mix
