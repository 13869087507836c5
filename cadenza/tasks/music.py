"""Music task requests: generate, cover, extend, edit, lyrics, stems, master and DAW export."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from cadenza.tasks.fields import (
    KEY_HELP,
    MAX_BPM,
    MAX_SECONDS,
    MIN_BPM,
    TIME_SIGNATURES,
    Key,
    Seconds,
    SourceId,
    TaskRequest,
    TimeSignature,
)


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
