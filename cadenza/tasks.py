"""The task catalogue: one pydantic request model per task, and the field types they share.

Faces build these from user input; engines receive them already validated. Errors name the field,
the bad value and what is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cadenza.errors import InputError

PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
SHARP_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
FLAT_NAMES = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]
MODES = {
    "major": "major",
    "maj": "major",
    "ionian": "major",
    "minor": "minor",
    "min": "minor",
    "aeolian": "minor",
}
TIME_SIGNATURES = ("2/4", "3/4", "4/4", "5/4", "6/8", "12/8")
AUDIO_FORMATS = ("wav", "flac", "mp3")
MIN_BPM, MAX_BPM = 40.0, 240.0
MIN_SECONDS, MAX_SECONDS = 5.0, 600.0

_KEY_RE = re.compile(r"^\s*([A-Ga-g])\s*([#♯b♭]?)\s*(m|maj|major|min|minor|ionian|aeolian)?\s*$")
KEY_HELP = "a tonic A-G with optional # or b, then major or minor (e.g. 'A minor', 'F# major', 'Bb', 'C#m')"


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class, C = 0
    mode: Literal["major", "minor"]

    @classmethod
    def parse(cls, text: str) -> Key:
        match = _KEY_RE.match(text or "")
        if not match:
            raise ValueError(f"unknown key {text!r}; expected {KEY_HELP}")
        letter, accidental, mode = match.groups()
        pitch = PITCH_CLASSES[letter.upper()] + {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(accidental, 0)
        mode_name = "minor" if mode == "m" else MODES.get((mode or "major").lower(), "major")
        return cls(pitch % 12, mode_name)  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        names = FLAT_NAMES if self.tonic in (1, 3, 8, 10) else SHARP_NAMES
        if self.mode == "major" and self.tonic == 6:
            names = SHARP_NAMES
        return f"{names[self.tonic]} {self.mode}"


@dataclass(frozen=True)
class TimeSignature:
    numerator: int
    denominator: int

    @classmethod
    def parse(cls, text: str) -> TimeSignature:
        cleaned = (text or "").replace(" ", "")
        if cleaned not in TIME_SIGNATURES:
            raise ValueError(f"unsupported time signature {text!r}; accepted: {', '.join(TIME_SIGNATURES)}")
        numerator, denominator = cleaned.split("/")
        return cls(int(numerator), int(denominator))

    @property
    def quarter_notes_per_bar(self) -> float:
        return self.numerator * 4 / self.denominator

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


Seconds = Annotated[float, Field(ge=MIN_SECONDS, le=MAX_SECONDS, description="Length in seconds")]
Seed = Annotated[int, Field(ge=0, lt=2**32, description="Random seed; the same seed gives the same result")]


class TaskRequest(BaseModel):
    """Fields every task shares."""

    model_config = ConfigDict(extra="forbid")

    seed: Seed | None = None
    advanced: dict[str, Any] = Field(default_factory=dict, description="Engine-specific parameters")


class GenerateRequest(TaskRequest):
    """Text (and optional lyrics) to music."""

    task: Literal["generate"] = "generate"
    prompt: str = Field("", max_length=2000, description="What the music should be, in free text")
    duration: Seconds = 30.0
    bpm: float | None = Field(None, description=f"Tempo in quarter notes per minute, {MIN_BPM:g} to {MAX_BPM:g}")
    key: str | None = Field(None, description=KEY_HELP)
    time_signature: str | None = Field(None, description=f"One of {', '.join(TIME_SIGNATURES)}")
    genre: str | None = Field(None, max_length=60, description="A genre the engine knows; see `cadenza engines`")
    lyrics: str | None = Field(None, max_length=20000, description="Tagged lyrics ([Verse], [Chorus], ...)")
    format: Literal["wav", "flac", "mp3"] = "wav"

    @field_validator("bpm")
    @classmethod
    def _bpm_in_range(cls, value: float | None) -> float | None:
        if value is not None and not MIN_BPM <= value <= MAX_BPM:
            raise ValueError(f"bpm {value:g} is out of range; accepted: {MIN_BPM:g} to {MAX_BPM:g}")
        return value

    @field_validator("key")
    @classmethod
    def _key_parses(cls, value: str | None) -> str | None:
        return None if value is None else Key.parse(value).name

    @field_validator("time_signature")
    @classmethod
    def _time_signature_parses(cls, value: str | None) -> str | None:
        return None if value is None else str(TimeSignature.parse(value))


SourceId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="A job id (its mix), an artifact id or an upload id; never a path",
    ),
]


class MasterRequest(TaskRequest):
    """Loudness to a target and true-peak limiting of any audio."""

    task: Literal["master"] = "master"
    source: SourceId
    lufs: float = Field(-14.0, ge=-30.0, le=-6.0, description="Integrated loudness target, LUFS")
    true_peak: float = Field(-1.0, ge=-6.0, le=0.0, description="True-peak ceiling, dBTP (4x oversampled)")
    format: Literal["wav", "flac", "mp3"] = "wav"


class StemsRequest(TaskRequest):
    """Separate a song into stems that sum to it."""

    task: Literal["stems"] = "stems"
    source: SourceId


class EditRequest(TaskRequest):
    """Repaint a time range of a song; the range snaps to bar lines and everything else stays."""

    task: Literal["edit"] = "edit"
    source: SourceId
    start: float = Field(..., ge=0, le=MAX_SECONDS, description="Seconds; snapped to the nearest bar line")
    end: float = Field(..., gt=0, le=MAX_SECONDS, description="Seconds; snapped to the nearest bar line")
    prompt: str = Field("", max_length=2000, description="Not used by the procedural engine yet")
    format: Literal["wav", "flac", "mp3"] = "wav"

    @model_validator(mode="after")
    def _start_before_end(self) -> EditRequest:
        if self.start >= self.end:
            raise ValueError(f"start ({self.start:g} s) must be before end ({self.end:g} s)")
        return self


class ExtendRequest(TaskRequest):
    """Continue a song: new sections, and its ending moved to the new end."""

    task: Literal["extend"] = "extend"
    source: SourceId
    seconds: float = Field(20.0, ge=2.0, le=300.0, description="How much longer the song becomes")
    side: Literal["end"] = Field("end", description="Where the new music goes (only the end so far)")
    prompt: str = Field("", max_length=2000, description="Not used by the procedural engine yet")
    format: Literal["wav", "flac", "mp3"] = "wav"


class CoverRequest(TaskRequest):
    """Restyle a song: its melody and harmony re-arranged in another style."""

    task: Literal["cover"] = "cover"
    source: SourceId
    prompt: str = Field(
        ..., min_length=1, max_length=2000, description="The new style, e.g. 'bossa nova, nylon guitar'"
    )
    strength: float = Field(
        1.0, ge=0.0, le=1.0, description="1 keeps melody, harmony and form; lower lets the arranger vary"
    )
    bpm: float | None = Field(None, description="Override the source's tempo")
    key: str | None = Field(None, description="Override the source's key")
    genre: str | None = Field(None, max_length=60)
    format: Literal["wav", "flac", "mp3"] = "wav"

    @field_validator("bpm")
    @classmethod
    def _bpm_in_range(cls, value: float | None) -> float | None:
        return GenerateRequest._bpm_in_range(value)

    @field_validator("key")
    @classmethod
    def _key_parses(cls, value: str | None) -> str | None:
        return None if value is None else Key.parse(value).name


LYRIC_SECTIONS = ("verse", "chorus", "bridge", "prechorus", "intro", "outro")


class LyricsRequest(TaskRequest):
    """Song lyrics on a theme, as tagged text with one line per sung phrase."""

    task: Literal["lyrics"] = "lyrics"
    theme: str = Field(..., min_length=1, max_length=500, description="What the song is about")
    structure: list[Literal["verse", "chorus", "bridge", "prechorus", "intro", "outro"]] = Field(
        default_factory=lambda: ["verse", "chorus", "verse", "chorus", "bridge", "chorus"], min_length=1, max_length=16
    )
    language: str = Field("en", min_length=2, max_length=12, description="Language code; the rhyme engine writes en")

    @field_validator("structure", mode="before")
    @classmethod
    def _split_structure(cls, value: object) -> object:
        return [part.strip().lower() for part in value.split(",") if part.strip()] if isinstance(value, str) else value


class ExportRequest(TaskRequest):
    """A finished job's stems, MIDI, lyrics and recipe as a DAW session or an archive."""

    task: Literal["export"] = "export"
    source: SourceId
    format: Literal["ardour", "reaper", "stems-zip"] = "stems-zip"


TASK_MODELS: dict[str, type[TaskRequest]] = {
    "generate": GenerateRequest,
    "master": MasterRequest,
    "stems": StemsRequest,
    "export": ExportRequest,
    "edit": EditRequest,
    "extend": ExtendRequest,
    "lyrics": LyricsRequest,
    "cover": CoverRequest,
}


def parse_request(task: str, data: dict[str, Any]) -> TaskRequest:
    """Validate `data` as the request of `task`, turning pydantic's errors into one readable InputError."""
    model = TASK_MODELS.get(task)
    if model is None:
        raise InputError(f"unknown task {task!r}; accepted: {', '.join(TASK_MODELS)}")
    try:
        return model.model_validate({k: v for k, v in data.items() if k != "task"})
    except ValidationError as exc:
        raise InputError(describe_validation_error(exc), details={"errors": _plain_errors(exc)}) from None


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "input"
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


def _plain_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"].removeprefix("Value error, ")}
        for e in exc.errors()
    ]
