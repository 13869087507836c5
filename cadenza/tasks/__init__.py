"""The task catalogue: one pydantic request model per task, and the field types they share.

Faces build these from user input; engines receive them already validated. Errors name the field,
the bad value and what is accepted. `fields` holds what every task shares, `music` and `video` the
requests of each domain.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cadenza.errors import InputError
from cadenza.tasks.fields import (
    AUDIO_FORMATS,
    FLAT_NAMES,
    KEY_HELP,
    MAX_BPM,
    MAX_SECONDS,
    MIN_BPM,
    MIN_SECONDS,
    MODES,
    PITCH_CLASSES,
    SHARP_NAMES,
    TIME_SIGNATURES,
    AudioRef,
    ImageRef,
    Key,
    Seconds,
    Seed,
    SourceId,
    TaskRequest,
    TimeSignature,
    VideoRef,
    _plain_errors,
    describe_validation_error,
)
from cadenza.tasks.music import (
    LYRIC_SECTIONS,
    CoverRequest,
    EditRequest,
    ExportRequest,
    ExtendRequest,
    GenerateRequest,
    LyricsRequest,
    MasterRequest,
    StemsRequest,
)
from cadenza.tasks.video import (
    VIDEO_PRESETS,
    VIDEO_TASKS,
    A2VRequest,
    I2VRequest,
    KeyframeRequest,
    LipsyncRequest,
    StyleRequest,
    T2VRequest,
    VideoRequest,
)

__all__ = [
    "AUDIO_FORMATS",
    "FLAT_NAMES",
    "KEY_HELP",
    "LYRIC_SECTIONS",
    "MAX_BPM",
    "MAX_SECONDS",
    "MIN_BPM",
    "MIN_SECONDS",
    "MODES",
    "PITCH_CLASSES",
    "SHARP_NAMES",
    "TASK_MODELS",
    "TIME_SIGNATURES",
    "VIDEO_PRESETS",
    "VIDEO_TASKS",
    "A2VRequest",
    "AudioRef",
    "CoverRequest",
    "EditRequest",
    "ExportRequest",
    "ExtendRequest",
    "GenerateRequest",
    "I2VRequest",
    "ImageRef",
    "Key",
    "KeyframeRequest",
    "LipsyncRequest",
    "LyricsRequest",
    "MasterRequest",
    "Seconds",
    "Seed",
    "SourceId",
    "StemsRequest",
    "StyleRequest",
    "T2VRequest",
    "TaskRequest",
    "TimeSignature",
    "VideoRef",
    "VideoRequest",
    "describe_validation_error",
    "parse_request",
]

TASK_MODELS: dict[str, type[TaskRequest]] = {
    "generate": GenerateRequest,
    "master": MasterRequest,
    "stems": StemsRequest,
    "export": ExportRequest,
    "edit": EditRequest,
    "extend": ExtendRequest,
    "lyrics": LyricsRequest,
    "cover": CoverRequest,
    "t2v": T2VRequest,
    "i2v": I2VRequest,
    "a2v": A2VRequest,
    "lipsync": LipsyncRequest,
    "keyframe": KeyframeRequest,
    "style": StyleRequest,
}


def parse_request(task: str, data: dict[str, Any], *, strict: bool = False) -> TaskRequest:
    """Validate `data` as the request of `task`, turning pydantic's errors into one readable InputError.

    `strict` (JSON from the API) takes types as the schema states them: no "5" for 5, no false for 0."""
    model = TASK_MODELS.get(task)
    if model is None:
        raise InputError(f"unknown task {task!r}; accepted: {', '.join(TASK_MODELS)}")
    try:
        return model.model_validate({k: v for k, v in data.items() if k != "task"}, strict=strict)
    except ValidationError as exc:
        raise InputError(describe_validation_error(exc), details={"errors": _plain_errors(exc)}) from None
