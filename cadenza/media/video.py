"""Video files: probing and checking uploads, decoding frames and images, and writing the MP4 every
video job delivers (H.264 yuv420p with +faststart so it plays in a browser and on a phone, AAC audio
muxed in step with the frames, a PNG poster).

PyAV's wheels carry FFmpeg's libraries, so none of this needs a system FFmpeg. `av`, numpy and Pillow
are imported inside the functions: importing this module costs nothing.

    with VideoWriter(path, 1280, 720, fps=30, audio=song_wav) as video:
        for frame in frames:          # (720, 1280, 3) uint8 RGB
            video.write(frame)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadenza.errors import InputError

if TYPE_CHECKING:
    import numpy as np

VIDEO_MIME = {"mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime"}
ACCEPTED_VIDEO = "video (MP4, WebM, MOV)"
AUDIO_SAMPLE_RATE = 48_000
AUDIO_BITRATE = 192_000
# x264 speed presets per Cadenza preset: the embedded engine's output is simple graphics, so even the
# fast presets look clean; `quality` spends the time on compression instead.
X264_PRESETS = {"fast": "ultrafast", "balanced": "veryfast", "quality": "medium"}


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, read from its streams (frames counted by decoding when asked)."""

    container: str
    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    video_codec: str
    pix_fmt: str
    audio_codec: str | None = None
    audio_duration_s: float | None = None
    audio_sample_rate: int | None = None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


def probe(path: Path, *, count_frames: bool = False) -> VideoInfo:
    """The streams of `path`; with `count_frames`, every frame is decoded and counted (a truncated file
    fails there). Raises InputError for anything that is not a readable video."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{Path(path).name!r} has no video stream")
            stream = container.streams.video[0]
            audio = container.streams.audio[0] if container.streams.audio else None
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            duration = _stream_seconds(stream, container)
            frames = stream.frames or round(duration * fps)
            if count_frames:
                frames = sum(1 for _ in container.decode(stream))
                duration = frames / fps if fps else duration
            return VideoInfo(
                container=_container_name(container.format.name),
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                fps=fps,
                frames=frames,
                duration_s=duration,
                video_codec=stream.codec_context.name,
                pix_fmt=stream.codec_context.pix_fmt or "",
                audio_codec=audio.codec_context.name if audio else None,
                audio_duration_s=_stream_seconds(audio, container) if audio else None,
                audio_sample_rate=audio.codec_context.sample_rate if audio else None,
            )
    except InputError:
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise InputError(f"{Path(path).name!r} is not a readable {ACCEPTED_VIDEO}: {exc}") from None


def _stream_seconds(stream: Any, container: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return float(container.duration or 0) / 1_000_000


def _container_name(format_name: str) -> str:
    names = format_name.split(",")
    if "webm" in names or "matroska" in names:
        return "webm"
    return "mp4" if "mp4" in names else names[0]


def check_video(path: Path, filename: str, *, max_seconds: float, max_side: int) -> VideoInfo:
    """An uploaded video, decoded completely: its codec readable, its length and size within the caps.
    Every problem is an InputError that names what is accepted."""
    try:
        head = probe(path)
    except InputError as exc:
        raise InputError(f"{filename!r} is not a readable {ACCEPTED_VIDEO} ({exc.message})") from None
    if head.container not in VIDEO_MIME:
        raise InputError(f"{filename!r} is a {head.container} file; accepted: {ACCEPTED_VIDEO}")
    if head.duration_s > max_seconds:
        raise InputError(
            f"{filename!r} lasts {head.duration_s:.1f} s; "
            f"accepted: videos up to {max_seconds:g} s (CADENZA_MAX_VIDEO_SECONDS)"
        )
    if max(head.width, head.height) > max_side:
        raise InputError(
            f"{filename!r} is {head.width}x{head.height}; accepted: videos up to {max_side} pixels on a side"
        )
    try:
        info = probe(path, count_frames=True)
    except InputError as exc:
        raise InputError(f"{filename!r} is a damaged video: {exc.message}") from None
    if info.frames == 0:
        raise InputError(f"{filename!r} contains no video frames")
    if head.frames and info.frames < head.frames * 0.9 - 1:
        raise InputError(f"{filename!r} is truncated: its header promises {head.frames} frames, {info.frames} decode")
    return info


def read_frames(path: Path, *, size: tuple[int, int] | None = None, limit: int | None = None) -> Iterator[np.ndarray]:
    """Frames of the first video stream as (height, width, 3) uint8 RGB, scaled to `size` (w, h) if given."""
    import av

    width, height = size if size else (None, None)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if limit is not None and index >= limit:
                return
            yield frame.to_ndarray(format="rgb24", width=width, height=height)


def read_image(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """An image as (height, width, 3) uint8 RGB, EXIF rotation applied, cropped to fill `size` (w, h)."""
    import numpy as np
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
        if size is not None:
            image = ImageOps.fit(image, size, Image.Resampling.LANCZOS)
        return np.asarray(image, dtype=np.uint8).copy()


def write_image(frame: np.ndarray, path: Path) -> Path:
    """A frame as a PNG (posters)."""
    from PIL import Image

    Image.fromarray(frame).save(path, format="PNG", optimize=False)
    return path


class VideoWriter:
    """An MP4 written frame by frame: H.264 yuv420p, +faststart, and the audio of `audio` (any file PyAV
    reads: a WAV mix, another video's sound) encoded as AAC in step with the frames and cut at the
    video's end."""

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: int,
        *,
        audio: Path | None = None,
        preset: str = "balanced",
        crf: int = 20,
        x264_params: str = "",
    ) -> None:
        import av

        if width % 2 or height % 2:
            raise ValueError(f"H.264 yuv420p needs even sizes, got {width}x{height}")
        self.path, self.fps, self.frames = Path(path), fps, 0
        self.container = av.open(str(self.path), mode="w", format="mp4", options={"movflags": "+faststart"})
        self.video = self.container.add_stream("libx264", rate=Fraction(fps))
        self.video.width, self.video.height, self.video.pix_fmt = width, height, "yuv420p"
        self.video.options = {"crf": str(crf), "preset": X264_PRESETS.get(preset, preset)}
        if x264_params:  # x264's own overrides on top of its preset, e.g. "cabac=1:deblock=1,0,0"
            self.video.options["x264-params"] = x264_params
        self.video.thread_type = "AUTO"
        self.video.codec_context.time_base = Fraction(1, fps)
        self._audio_in = None
        self._audio_frames: Iterator[Any] | None = None
        self._audio_pending: Any = None
        self.audio_seconds = 0.0
        if audio is not None:
            self.audio = self.container.add_stream("aac", rate=AUDIO_SAMPLE_RATE)
            self.audio.bit_rate = AUDIO_BITRATE
            self.audio.layout = "stereo"
            self._audio_in = av.open(str(audio))
            if not self._audio_in.streams.audio:
                raise InputError(f"{Path(audio).name!r} has no audio stream")
            self._audio_frames = self._resampled(self._audio_in)

    def _resampled(self, source: Any) -> Iterator[Any]:
        import av

        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_SAMPLE_RATE)
        for frame in source.decode(source.streams.audio[0]):
            frame.pts = None
            yield from resampler.resample(frame)
        yield from resampler.resample(None)

    def write(self, frame: np.ndarray, pixel_format: str = "rgb24") -> None:
        """One frame: (height, width, 3) RGB, or with pixel_format "yuv420p" an I420 buffer of shape
        (height * 3 // 2, width) in limited-range BT.601, which skips FFmpeg's colour conversion."""
        import av

        video_frame = av.VideoFrame.from_ndarray(frame, format=pixel_format)
        video_frame.pts = self.frames
        self.container.mux(self.video.encode(video_frame))
        self.frames += 1
        self._audio_until(self.frames / self.fps)

    def _audio_until(self, seconds: float) -> None:
        """Encode the soundtrack up to `seconds` (the video's length so far): packets stay interleaved."""
        if self._audio_frames is None:
            return
        while self.audio_seconds < seconds:
            frame = self._audio_pending or next(self._audio_frames, None)
            self._audio_pending = None
            if frame is None:
                self._audio_frames = None
                return
            remaining = round((seconds - self.audio_seconds) * AUDIO_SAMPLE_RATE)
            if frame.samples > remaining and self._closing:
                frame = _cut(frame, remaining)
            frame.pts = round(self.audio_seconds * AUDIO_SAMPLE_RATE)
            self.container.mux(self.audio.encode(frame))
            self.audio_seconds += frame.samples / AUDIO_SAMPLE_RATE

    _closing = False

    def close(self) -> None:
        self._closing = True
        try:
            self._audio_until(self.frames / self.fps)
            self.container.mux(self.video.encode(None))
            if self._audio_in is not None:
                self.container.mux(self.audio.encode(None))
        finally:
            self.container.close()
            if self._audio_in is not None:
                self._audio_in.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cut(frame: Any, samples: int) -> Any:
    import av

    planes = frame.to_ndarray()[:, :samples]
    cut = av.AudioFrame.from_ndarray(planes.copy(), format="fltp", layout="stereo")
    cut.sample_rate = AUDIO_SAMPLE_RATE
    return cut
