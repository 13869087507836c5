"""Video task requests: text, image, audio, lipsync, keyframes and style to video.

Sizes, lengths and rates are optional: an engine fills what is left out with its own defaults (the
`motion` engine 1280x720 at 30 fps, LTX 768x512 at 24 fps; a2v and style last as long as their source)
and records what it used in the recipe. Engines apply their own shape rules on top of these caps.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from cadenza.tasks.fields import AudioRef, ImageRef, TaskRequest, VideoRef

VIDEO_PRESETS = ("fast", "balanced", "quality")
MIN_SIDE, MAX_SIDE = 64, 1920
MAX_VIDEO_SECONDS = 600.0
MIN_FPS, MAX_FPS = 1, 60

Side = Field(
    None, ge=MIN_SIDE, le=MAX_SIDE, description=f"Pixels, even, {MIN_SIDE} to {MAX_SIDE}; default: the engine's"
)


class VideoRequest(TaskRequest):
    """Fields every video task shares."""

    prompt: str = Field("", max_length=2000, description="What the video should show, in free text")
    negative_prompt: str = Field("", max_length=2000, description="What it should not show (model engines)")
    width: int | None = Side
    height: int | None = Side
    duration: float | None = Field(
        None,
        gt=0,
        le=MAX_VIDEO_SECONDS,
        description="Seconds; give this or frames; default: the engine's or the source's",
    )
    frames: int | None = Field(
        None, ge=1, le=int(MAX_VIDEO_SECONDS * MAX_FPS), description="Frame count, instead of duration"
    )
    fps: int | None = Field(None, ge=MIN_FPS, le=MAX_FPS, description="Frames per second; default: the engine's")
    preset: Literal["fast", "balanced", "quality"] = Field("balanced", description="Speed against quality")

    @model_validator(mode="after")
    def _consistent_shape(self) -> VideoRequest:
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and value % 2:
                raise ValueError(f"{name} {value} is odd; video sizes must be even ({MIN_SIDE} to {MAX_SIDE})")
        if self.duration is not None and self.frames is not None:
            raise ValueError("give duration or frames, not both")
        if self.duration is not None and not math.isfinite(self.duration):
            raise ValueError("duration must be a finite number of seconds")
        return self

    def frame_count(self, fps: int, default_seconds: float) -> int:
        """Frames asked for: `frames`, else `duration` (or the default) at `fps`, at least one."""
        if self.frames is not None:
            return self.frames
        return max(1, round((self.duration if self.duration is not None else default_seconds) * fps))


class T2VRequest(VideoRequest):
    """Text to video."""

    task: Literal["t2v"] = "t2v"
    prompt: str = Field(..., min_length=1, max_length=2000, description="What the video should show")


class I2VRequest(VideoRequest):
    """An image set in motion; with audio, the motion follows its beat."""

    task: Literal["i2v"] = "i2v"
    image: ImageRef
    audio: AudioRef | None = None


class A2VRequest(VideoRequest):
    """A video driven by audio: a song's visualizer or music video, its mix as the soundtrack."""

    task: Literal["a2v"] = "a2v"
    audio: AudioRef
    image: ImageRef | None = None


class LipsyncRequest(VideoRequest):
    """A face image speaking or singing the audio."""

    task: Literal["lipsync"] = "lipsync"
    image: ImageRef
    audio: AudioRef


class KeyframeRequest(VideoRequest):
    """The motion from a first frame to a last frame."""

    task: Literal["keyframe"] = "keyframe"
    first_frame: ImageRef
    last_frame: ImageRef


class StyleRequest(VideoRequest):
    """A source video restyled by the prompt, its timing and audio kept."""

    task: Literal["style"] = "style"
    video: VideoRef
    control: VideoRef | None = Field(
        None,
        description="A control video (depth, pose or edge maps) that an IC-LoRA adapter makes the result follow "
        "(engine ltx with an LTX-2 model); the source still gives the timing and the sound",
    )
    prompt: str = Field(..., min_length=1, max_length=2000, description="The look, e.g. 'pencil sketch' or 'cartoon'")


VIDEO_TASKS = ("t2v", "i2v", "a2v", "lipsync", "keyframe", "style")
