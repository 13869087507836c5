"""Reading and writing audio files; every write is atomic (temp file, then rename)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf

from cadenza.errors import InputError

MIME = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "mid": "audio/midi",
    "json": "application/json",
    "lrc": "text/plain",
    "txt": "text/plain",
    "zip": "application/zip",
}
SUBTYPES = {"wav": "PCM_24", "flac": "PCM_24", "mp3": "MPEG_LAYER_III"}


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` that replaces it only when the block finishes without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes files only their owner can read; results are for sharing
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_audio(path: Path, audio: np.ndarray, sample_rate: int, subtype: str | None = None) -> Path:
    """Write (frames, channels) float audio; the format follows the suffix (wav, flac, mp3)."""
    with audio_stream(path, sample_rate, audio.shape[1] if audio.ndim == 2 else 1, subtype) as write:
        write(audio)
    return path


@contextmanager
def audio_stream(
    path: Path, sample_rate: int, channels: int, subtype: str | None = None
) -> Iterator[Callable[[np.ndarray], None]]:
    """An audio file written block by block: the value takes consecutive (frames, channels) blocks; the
    file appears at `path` only when the block ends without error (the same bytes as one whole write)."""
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in SUBTYPES:
        raise InputError(f"unsupported audio format {fmt!r}; accepted: {', '.join(SUBTYPES)}")
    subtype = subtype or SUBTYPES[fmt]
    with (
        atomic_path(path) as tmp,
        sf.SoundFile(tmp, "w", sample_rate, channels, subtype=subtype, format=fmt.upper()) as handle,
    ):
        if subtype in ("FLOAT", "DOUBLE"):
            _without_peak_chunk(handle)
        yield lambda block: handle.write(np.asarray(block, dtype=np.float32))


SFC_SET_ADD_PEAK_CHUNK = 0x1050


def _without_peak_chunk(handle: sf.SoundFile) -> None:
    """libsndfile stamps float WAVs with a PEAK chunk holding the current time; turning it off keeps the
    same audio the same bytes. (soundfile has no public switch for this libsndfile command.)"""
    command = getattr(sf, "_snd", None)
    if command is not None:
        command.sf_command(handle._file, SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 audio and its sample rate; a clear InputError if it is not audio."""
    try:
        audio, sample_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise InputError(f"{Path(path).name} is not readable audio ({exc}); accepted: WAV, FLAC, OGG, MP3") from None
    if audio.shape[0] == 0:
        raise InputError(f"{Path(path).name} contains no audio frames")
    return audio, int(sample_rate)


def audio_info(path: Path) -> tuple[float, int]:
    """(duration in seconds, sample rate) from the header alone."""
    info = sf.info(str(path))
    return info.frames / info.samplerate, int(info.samplerate)


def sha256_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mime_for(path: Path) -> str:
    return MIME.get(path.suffix.lstrip(".").lower(), "application/octet-stream")
