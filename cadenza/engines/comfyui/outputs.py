"""Turning what a ComfyUI prompt saved into Cadenza artifacts: an MP4 every browser and phone plays
(H.264 yuv420p, +faststart, AAC when there is sound), a poster PNG, audio in the requested format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cadenza.engines.base import Artifact
from cadenza.errors import EngineError, InputError

VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".gif")
AUDIO_SUFFIXES = (".flac", ".wav", ".mp3", ".opus", ".ogg", ".m4a")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def saved_files(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Every file the prompt's nodes saved (type 'output'), in node order; previews ('temp') only when
    nothing was saved."""
    items = []
    for node_id in sorted(entry.get("outputs", {}), key=lambda n: (len(n), n)):
        for values in entry["outputs"][node_id].values():
            if isinstance(values, list):
                items += [v | {"node": node_id} for v in values if isinstance(v, dict) and v.get("filename")]
    saved = [item for item in items if item.get("type", "output") == "output"]
    return saved or items


def kind_of(filename: str) -> str | None:
    suffix = Path(filename).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in IMAGE_SUFFIXES or suffix == ".webp":
        return "image"
    return None


def deliver_video(source: Path, target: Path, *, soundtrack: Path | None, preset: str) -> tuple[dict[str, Any], bool]:
    """`source` as a browser-ready MP4 at `target`; (its probe, whether it was re-encoded).

    H.264 yuv420p without an added soundtrack is only re-muxed (+faststart, streams copied); anything
    else is decoded and encoded again, with `soundtrack` (or the source's own sound) as AAC."""
    from cadenza.media.video import probe

    try:
        info = probe(source)
    except InputError as exc:
        raise EngineError(f"ComfyUI saved a video Cadenza cannot read ({source.name}): {exc.message}") from None
    if info.video_codec == "h264" and info.pix_fmt == "yuv420p" and soundtrack is None:
        _remux_faststart(source, target)
        return _summary(probe(target, count_frames=True)), False
    _reencode(source, target, info.width, info.height, round(info.fps) or 24, soundtrack, info.has_audio, preset)
    return _summary(probe(target, count_frames=True)), True


def _summary(info: Any) -> dict[str, Any]:
    return {
        "width": info.width,
        "height": info.height,
        "fps": round(info.fps, 3),
        "frames": info.frames,
        "codec": info.video_codec,
        "pix_fmt": info.pix_fmt,
        "audio": info.audio_codec,
    }


def _remux_faststart(source: Path, target: Path) -> None:
    import av

    with (
        av.open(str(source)) as incoming,
        av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as outgoing,
    ):
        mapping = {}
        for stream in incoming.streams:
            if stream.type in ("video", "audio"):
                mapping[stream.index] = outgoing.add_stream_from_template(stream)
        for packet in incoming.demux(*[s for s in incoming.streams if s.index in mapping]):
            if packet.dts is None:
                continue
            packet.stream = mapping[packet.stream.index]
            outgoing.mux(packet)


def _reencode(
    source: Path, target: Path, width: int, height: int, fps: int, soundtrack: Path | None, own: bool, preset: str
) -> None:
    from cadenza.media.video import VideoWriter, read_frames

    even = (width - width % 2, height - height % 2)
    audio = soundtrack or (source if own else None)
    with VideoWriter(target, *even, fps=fps, audio=audio, preset=preset) as writer:
        for frame in read_frames(source, size=even if even != (width, height) else None):
            writer.write(frame)


def poster(video: Path, target: Path) -> Path:
    """The first frame as a PNG."""
    from cadenza.media.video import read_frames, write_image

    frame = next(read_frames(video, limit=1), None)
    if frame is None:
        raise EngineError(f"ComfyUI's video {video.name} has no frames")
    return write_image(frame, target)


def deliver_audio(source: Path, target: Path) -> Artifact:
    """Audio in the format `target`'s suffix names (wav, flac, mp3)."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(source), always_2d=True)
    except RuntimeError as exc:
        raise EngineError(f"ComfyUI saved audio Cadenza cannot read ({source.name}): {exc}") from None
    sf.write(str(target), data, rate)
    from cadenza.media.io import mime_for

    return Artifact(target, "audio", "mix", mime_for(target), len(data) / rate, rate)
