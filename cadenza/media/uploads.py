"""Checking an uploaded file before any job may use it: it must decode completely as audio or image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cadenza.errors import InputError

AUDIO_MIME = {"WAV": "audio/wav", "FLAC": "audio/flac", "OGG": "audio/ogg", "MP3": "audio/mpeg", "AIFF": "audio/aiff"}
IMAGE_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
ACCEPTED = "audio (WAV, FLAC, OGG, MP3, AIFF), image (PNG, JPEG, WEBP) or video (MP4, WebM, MOV)"
VIDEO_SUFFIXES = (".mp4", ".m4v", ".webm", ".mov", ".mkv")
# Images are read from their header before any pixel is decoded: 8192 px a side and 40 megapixels hold
# a 4K frame with room to spare, and decoding the largest one allowed takes about 160 MB.
MAX_IMAGE_SIDE = 8192
MAX_IMAGE_PIXELS = 40_000_000


@dataclass(frozen=True)
class Checked:
    kind: str  # audio, image, video
    mime: str
    extension: str
    duration_s: float | None = None
    sample_rate: int | None = None


def check_file(path: Path, filename: str, *, max_video_seconds: float = 600.0, max_video_side: int = 3840) -> Checked:
    """Decode `path` fully; a truncated or unknown file is an InputError naming what is accepted."""
    path = Path(path)
    if Path(filename).suffix.lower() in VIDEO_SUFFIXES or _looks_like_video(path):
        return _check_video(path, filename, max_video_seconds, max_video_side)
    audio = _check_audio(path, filename)
    if audio is not None:
        return audio
    image = _check_image(path, filename)
    if image is not None:
        return image
    raise InputError(f"{filename!r} is not a readable {ACCEPTED}")


def _check_audio(path: Path, filename: str) -> Checked | None:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError):
        return None
    import numpy as np

    try:
        frames = 0
        with sf.SoundFile(str(path)) as handle:
            for block in handle.blocks(blocksize=1 << 16, dtype="float32"):
                if not np.isfinite(block).all():
                    second = (frames + int(np.argmin(np.isfinite(block).all(axis=-1)))) / info.samplerate
                    raise InputError(
                        f"{filename!r} contains samples that are not numbers (NaN or infinity), first at "
                        f"{second:.3f} s; accepted: audio whose samples are finite"
                    )
                frames += len(block)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise InputError(f"{filename!r} is damaged audio: {exc}") from None
    if frames == 0:
        raise InputError(f"{filename!r} contains no audio")
    declared = _declared_wav_bytes(path) if info.format == "WAV" else None
    if declared is not None and declared[0] > declared[1]:
        raise InputError(
            f"{filename!r} is truncated: its header promises {declared[0]} bytes of audio, the file holds {declared[1]}"
        )
    return Checked(
        "audio",
        AUDIO_MIME.get(info.format, "audio/wav"),
        info.format.lower(),
        frames / info.samplerate,
        info.samplerate,
    )


def _declared_wav_bytes(path: Path) -> tuple[int, int] | None:
    """(bytes the RIFF `data` chunk declares, bytes actually there). libsndfile quietly shortens a
    truncated WAV to what it finds, so the header is read here."""
    with path.open("rb") as handle:
        if handle.read(12)[:4] != b"RIFF":
            return None
        while header := handle.read(8):
            if len(header) < 8:
                return None
            size = int.from_bytes(header[4:], "little")
            if header[:4] == b"data":
                start = handle.tell()
                handle.seek(0, 2)
                return size, handle.tell() - start
            handle.seek(size + (size & 1), 1)
    return None


def _check_image(path: Path, filename: str) -> Checked | None:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        return None
    import warnings

    try:
        with warnings.catch_warnings():
            # Our own size limit below is stricter than Pillow's bomb check, which would fire first.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:  # reads the header only
                image_format = image.format or ""
                if image_format not in IMAGE_MIME:
                    raise InputError(f"{filename!r} is a {image_format} image; accepted: {ACCEPTED}")
                _check_image_size(filename, *image.size)
                image.load()  # decodes every pixel: truncated files fail here
    except UnidentifiedImageError:
        return None
    except Image.DecompressionBombError:  # only a header that lies about its size gets here
        raise InputError(f"{filename!r} is too large an image; accepted: {_IMAGE_LIMIT}") from None
    except (OSError, SyntaxError) as exc:
        raise InputError(f"{filename!r} is a damaged image: {exc}") from None
    return Checked("image", IMAGE_MIME[image_format], image_format.lower().replace("jpeg", "jpg"))


_IMAGE_LIMIT = f"at most {MAX_IMAGE_SIDE} pixels a side and {MAX_IMAGE_PIXELS // 1_000_000} megapixels"


def _check_image_size(filename: str, width: int, height: int) -> None:
    if width < 1 or height < 1 or max(width, height) > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise InputError(f"{filename!r} is a {width}x{height} image; accepted: {_IMAGE_LIMIT}")


def _looks_like_video(path: Path) -> bool:
    """ISO media (MP4, MOV) or Matroska/WebM by their first bytes: libsndfile and Pillow know neither."""
    with path.open("rb") as handle:
        head = handle.read(12)
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free") or head[:4] == b"\x1a\x45\xdf\xa3"


def _check_video(path: Path, filename: str, max_seconds: float, max_side: int) -> Checked:
    from cadenza.media.video import VIDEO_MIME, check_video

    info = check_video(path, filename, max_seconds=max_seconds, max_side=max_side)
    return Checked("video", VIDEO_MIME[info.container], info.container, info.duration_s, info.audio_sample_rate)
