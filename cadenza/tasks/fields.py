"""Field types and the base request every task shares: keys, meters, lengths, seeds, file references."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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

    # NaN and infinity are not numbers a request can mean: they get their own message, not a range error.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    seed: Seed | None = None
    advanced: dict[str, Any] = Field(default_factory=dict, description="Engine-specific parameters")


SourceId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="A job id (its mix), an artifact id or an upload id; never a path",
    ),
]


def _ref(what: str) -> object:
    return Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description=f"{what}: an upload id, an artifact id, or a job id (that job's main output); never a path",
    )


AudioRef = Annotated[str, _ref("Audio")]
ImageRef = Annotated[str, _ref("An image")]
VideoRef = Annotated[str, _ref("A video")]


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
