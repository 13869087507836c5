"""Understanding the prompt: free text plus explicit options -> a Style the composer can follow.

Words the engine does not know are ignored; values it cannot honour are InputErrors that list what is
accepted. Explicit request fields always win over what the text says.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from cadenza.engines.procedural.genres import DEFAULT_GENRE, GENRES, Genre
from cadenza.errors import InputError
from cadenza.tasks import MAX_BPM, MIN_BPM, GenerateRequest, Key, TimeSignature

# word -> (role, General MIDI program); longer phrases are matched first
INSTRUMENT_WORDS: dict[str, tuple[str, int]] = {
    "grand piano": ("chords", 0),
    "piano": ("chords", 0),
    "rhodes": ("chords", 4),
    "electric piano": ("chords", 4),
    "wurlitzer": ("chords", 5),
    "keys": ("chords", 4),
    "organ": ("chords", 16),
    "hammond": ("chords", 16),
    "clavinet": ("chords", 7),
    "nylon guitar": ("chords", 24),
    "nylon": ("chords", 24),
    "acoustic guitar": ("chords", 25),
    "guitar": ("chords", 25),
    "electric guitar": ("chords", 27),
    "distorted guitar": ("chords", 30),
    "strings": ("pad", 48),
    "string": ("pad", 48),
    "choir": ("pad", 52),
    "pad": ("pad", 89),
    "pads": ("pad", 89),
    "synth": ("lead", 81),
    "synths": ("lead", 81),
    "saxophone": ("lead", 65),
    "sax": ("lead", 65),
    "tenor sax": ("lead", 66),
    "trumpet": ("lead", 56),
    "flute": ("lead", 73),
    "violin": ("lead", 40),
    "cello": ("lead", 42),
    "clarinet": ("lead", 71),
    "oboe": ("lead", 68),
    "horn": ("lead", 60),
    "horns": ("lead", 60),
    "brass": ("lead", 61),
    "harmonica": ("lead", 22),
    "whistle": ("lead", 78),
    "vibraphone": ("lead", 11),
    "vibes": ("lead", 11),
    "bells": ("arp", 14),
    "glockenspiel": ("arp", 9),
    "celesta": ("arp", 8),
    "music box": ("arp", 10),
    "harp": ("arp", 46),
    "marimba": ("arp", 12),
    "kalimba": ("arp", 108),
    "pizzicato": ("arp", 45),
    "arpeggio": ("arp", 81),
    "arp": ("arp", 81),
    "808": ("bass", 38),
    "sub bass": ("bass", 38),
    "slap bass": ("bass", 36),
    "upright bass": ("bass", 32),
    "double bass": ("bass", 32),
    "bass guitar": ("bass", 33),
    "synth bass": ("bass", 38),
}

MOODS: dict[str, tuple[str, str | None, float]] = {  # word -> (mood, mode, energy shift)
    "happy": ("happy", "major", 0.1),
    "joyful": ("happy", "major", 0.1),
    "uplifting": ("uplifting", "major", 0.1),
    "bright": ("bright", "major", 0.05),
    "sunny": ("happy", "major", 0.05),
    "hopeful": ("hopeful", "major", 0.0),
    "sad": ("sad", "minor", -0.1),
    "melancholic": ("melancholic", "minor", -0.1),
    "melancholy": ("melancholic", "minor", -0.1),
    "dark": ("dark", "minor", 0.0),
    "moody": ("moody", "minor", -0.05),
    "nostalgic": ("nostalgic", None, -0.05),
    "epic": ("epic", None, 0.15),
    "heroic": ("heroic", "major", 0.15),
    "angry": ("angry", "minor", 0.2),
    "aggressive": ("aggressive", "minor", 0.2),
    "energetic": ("energetic", None, 0.2),
    "calm": ("calm", None, -0.2),
    "chill": ("chill", None, -0.15),
    "relaxing": ("calm", None, -0.2),
    "peaceful": ("calm", "major", -0.2),
    "dreamy": ("dreamy", None, -0.1),
    "romantic": ("romantic", None, -0.05),
    "mysterious": ("mysterious", "minor", -0.05),
    "tense": ("tense", "minor", 0.1),
}
TEMPO_WORDS = {"slow": 0.2, "laid back": 0.3, "mid tempo": 0.5, "upbeat": 0.75, "fast": 0.85, "driving": 0.75}

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
    instruments: dict[str, int]
    textures: list[str] = field(default_factory=list)
    voice: str = "alto"  # the singer's register: soprano, alto, tenor, baritone
    timbre: str = "clear"  # clear, warm, bright, breathy
    vocal_language: str = "en"  # an eSpeak NG language code

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


def find_genre(name: str) -> Genre:
    cleaned = name.strip().lower().replace("_", " ").replace("-", " ")
    for genre in GENRES.values():
        if cleaned == genre.name or cleaned in genre.aliases:
            return genre
    raise InputError(f"unknown genre {name!r}; accepted: {', '.join(GENRES)}")


def _phrases(table: dict[str, Any], text: str) -> list[tuple[int, str]]:
    """(position, phrase) of each table phrase in text, longest phrases claiming their words first."""
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for phrase in sorted(table, key=len, reverse=True):
        for match in re.finditer(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text):
            span = match.span()
            if not any(span[0] < end and start < span[1] for start, end in taken):
                taken.append(span)
                found.append((span[0], phrase))
    return sorted(found)


def _genre_from_text(text: str) -> Genre | None:
    aliases = {alias: genre for genre in GENRES.values() for alias in (*genre.aliases, genre.name)}
    hits = _phrases(aliases, text)
    return aliases[hits[0][1]] if hits else None


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
    genre = find_genre(request.genre) if request.genre else (_genre_from_text(text) or GENRES[DEFAULT_GENRE])

    moods = [MOODS[phrase] for _, phrase in _phrases(MOODS, text)]
    mood = moods[0][0] if moods else "neutral"
    mode_votes = [m[1] for m in moods if m[1]]
    energy = min(1.0, max(0.1, genre.energy + sum(m[2] for m in moods)))

    slowest, default_bpm, fastest = genre.tempo
    tempo_words = _phrases(TEMPO_WORDS, text)
    if tempo_words:
        default_bpm = round(slowest + (fastest - slowest) * TEMPO_WORDS[tempo_words[0][1]])
    bpm = request.bpm if request.bpm is not None else (_bpm_from_text(request.prompt) or default_bpm)

    if request.key:
        key = Key.parse(request.key)
    else:
        key = _key_from_text(request.prompt) or Key(
            _default_tonic(genre, request.seed), mode_votes[0] if mode_votes else genre.mode
        )  # type: ignore[arg-type]

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
        voice=voice,
        timbre=timbre,
        genre=genre.name,
        mood=mood,
        bpm=float(bpm),
        key=key.name,
        time_signature=str(meter),
        energy=round(energy, 3),
        instruments=instruments,
        textures=textures,
    )


def _default_tonic(genre: Genre, seed: int | None) -> int:
    """A key that suits the genre's instruments when the prompt names none; varies with the seed."""
    choices = (0, 2, 4, 5, 7, 9) if genre.mode == "major" else (9, 4, 2, 0, 7, 11)
    return choices[(seed or 0) % len(choices)]


VOICE_WORDS = {
    "soprano": "soprano",
    "female vocal": "alto",
    "female vocals": "alto",
    "female voice": "alto",
    "female singer": "alto",
    "woman": "alto",
    "girl": "soprano",
    "alto": "alto",
    "high voice": "soprano",
    "tenor": "tenor",
    "male vocal": "tenor",
    "male vocals": "tenor",
    "male voice": "tenor",
    "male singer": "tenor",
    "man": "tenor",
    "baritone": "baritone",
    "deep voice": "baritone",
    "low voice": "baritone",
    "bass voice": "baritone",
}
TIMBRE_WORDS = {
    "breathy": "breathy",
    "whisper": "breathy",
    "airy": "breathy",
    "warm voice": "warm",
    "bright voice": "bright",
}


def voice_from_text(text: str, seed: int | None) -> tuple[str, str]:
    """The singer's register and timbre named in the prompt; else a register drawn from the seed."""
    voices = _phrases(VOICE_WORDS, text)
    timbres = _phrases(TIMBRE_WORDS, text)
    voice = VOICE_WORDS[voices[0][1]] if voices else ("alto", "tenor")[(seed or 0) % 2]
    return voice, TIMBRE_WORDS[timbres[0][1]] if timbres else "clear"
