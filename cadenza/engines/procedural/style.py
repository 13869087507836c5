"""Understanding the prompt: free text plus explicit options -> a Style the composer can follow.

Words the engine does not know are ignored; values it cannot honour are InputErrors that list what is
accepted. Explicit request fields always win over what the text says.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from cadenza.engines.procedural.genre_choice import default_key, phrases, resolve_genre
from cadenza.engines.procedural.genres import GENRES, Genre
from cadenza.engines.procedural.prompt_words import (
    INSTRUMENT_WORDS,
    MOODS,
    TEMPO_WORDS,
    TIMBRE_WORDS,
    VOICE_WORDS,
)
from cadenza.errors import InputError
from cadenza.tasks import MAX_BPM, MIN_BPM, GenerateRequest, Key, TimeSignature

_BPM_RE = re.compile(r"\b(\d{1,4}(?:\.\d+)?)\s*bpm\b", re.IGNORECASE)
_KEY_RE = re.compile(r"\b([A-G][#b♯♭]?)\s*(major|minor|maj|min)\b|\b([A-G][#b♯♭]?m)\b", re.IGNORECASE)
_METER_RE = re.compile(r"\b(\d{1,2})\s*/\s*(\d{1,2})\b")


@dataclass
class Style:
    """What was understood from the prompt; recorded in the recipe so the user can see it."""

    genre: str
    mood: str
    bpm: float
    key: str
    time_signature: str
    energy: float
    instruments: dict[str, int | str]
    textures: list[str] = field(default_factory=list)
    voice: str = "alto"  # the singer's register: soprano, alto, tenor, baritone
    timbre: str = "clear"  # clear, warm, bright, breathy
    vocal_language: str = "en"  # an eSpeak NG language code
    genre_reason: str = ""  # why this genre: 'matched "metal"', 'closest to "retro neon"', ...
    brightness: float = 0.0  # tilt of the sound, dB per octave: the genre's, moved by mood words
    density: float = 1.0  # how busy the melody is, moved by energy words

    @property
    def parsed_key(self) -> Key:
        return Key.parse(self.key)

    @property
    def meter(self) -> TimeSignature:
        return TimeSignature.parse(self.time_signature)

    @property
    def genre_spec(self) -> Genre:
        return GENRES[self.genre]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_phrases = phrases  # one phrase matcher for every table


def _bpm_from_text(text: str) -> float | None:
    match = _BPM_RE.search(text)
    if not match:
        return None
    bpm = float(match.group(1))
    if not MIN_BPM <= bpm <= MAX_BPM:
        raise InputError(f"the prompt asks for {bpm:g} bpm; accepted: {MIN_BPM:g} to {MAX_BPM:g}")
    return bpm


def _key_from_text(text: str) -> Key | None:
    match = _KEY_RE.search(text)
    if not match:
        return None
    if match.group(3):
        return Key.parse(match.group(3)[0].upper() + match.group(3)[1:])
    return Key.parse(f"{match.group(1)[0].upper()}{match.group(1)[1:]} {match.group(2)}")


def _meter_from_text(text: str) -> TimeSignature | None:
    match = _METER_RE.search(text)
    if match:
        try:
            return TimeSignature.parse(f"{match.group(1)}/{match.group(2)}")
        except ValueError as exc:
            raise InputError(f"the prompt asks for {exc}") from None
    return TimeSignature(3, 4) if re.search(r"\bwaltz\b", text, re.IGNORECASE) else None


def resolve_style(request: GenerateRequest) -> Style:
    """Turn the prompt and explicit options into a Style; explicit options override the text."""
    text = request.prompt.lower()
    moods = [MOODS[phrase] for _, phrase in _phrases(MOODS, text)]
    genre, reason = resolve_genre(request.genre, text, [m[0] for m in moods])
    mood = moods[0][0] if moods else "neutral"
    mode_votes = [m[1] for m in moods if m[1]]
    energy_shift = sum(m[2] for m in moods)
    brightness_shift = sum(m[3] for m in moods)
    energy = min(1.0, max(0.1, genre.energy + energy_shift))

    slowest, default_bpm, fastest = genre.tempo
    tempo_words = _phrases(TEMPO_WORDS, text)
    if tempo_words:
        default_bpm = round(slowest + (fastest - slowest) * TEMPO_WORDS[tempo_words[0][1]])
    else:  # energy words move the tempo inside the genre's range
        default_bpm = round(min(fastest, max(slowest, default_bpm + energy_shift * (fastest - slowest))))
    bpm = request.bpm if request.bpm is not None else (_bpm_from_text(request.prompt) or default_bpm)

    if request.key:
        key = Key.parse(request.key)
    else:
        key = _key_from_text(request.prompt) or default_key(genre, mode_votes, brightness_shift, request.seed)

    meter = (
        TimeSignature.parse(request.time_signature)
        if request.time_signature
        else (_meter_from_text(text) or TimeSignature.parse(genre.meter))
    )

    instruments = dict(genre.instruments)
    for _, phrase in _phrases(INSTRUMENT_WORDS, text):
        role, program = INSTRUMENT_WORDS[phrase]
        if program not in genre.instruments.values():
            instruments[role] = program
    textures = list(genre.texture)
    if re.search(r"\b(vinyl|crackle|tape hiss)\b", text) and "vinyl" not in textures:
        textures.append("vinyl")

    voice, timbre = voice_from_text(text, request.seed)
    return Style(
        genre=genre.name,
        mood=mood,
        bpm=float(bpm),
        key=key.name,
        time_signature=str(meter),
        energy=round(energy, 3),
        instruments=instruments,
        textures=textures,
        voice=voice,
        timbre=timbre,
        genre_reason=reason,
        brightness=round(genre.brightness + brightness_shift, 3),
        density=round(min(1.5, max(0.6, 1.0 + 1.5 * energy_shift)), 3),
    )


def voice_from_text(text: str, seed: int | None) -> tuple[str, str]:
    """The singer's register and timbre named in the prompt; else a register drawn from the seed."""
    voices = _phrases(VOICE_WORDS, text)
    timbres = _phrases(TIMBRE_WORDS, text)
    voice = VOICE_WORDS[voices[0][1]] if voices else ("alto", "tenor")[(seed or 0) % 2]
    return voice, TIMBRE_WORDS[timbres[0][1]] if timbres else "clear"
