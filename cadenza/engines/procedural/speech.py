"""Spoken words from eSpeak NG: audio plus the time each phoneme starts, through ctypes.

The `espeakng-loader` wheel ships libespeak-ng and its data, so no system package is needed. The library
keeps global state and is not thread-safe: every call holds one lock.

from cadenza.engines.procedural.speech import speak
words = speak("inside", "en", "m3")
print(words.sample_rate, len(words.audio), [(p.name, p.start) for p in words.phonemes])
"""

from __future__ import annotations

import ctypes
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from cadenza.errors import InputError

_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS
_PHONEME_EVENTS = 0x0001  # espeakINITIALIZE_PHONEME_EVENTS
_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_EVENT_PHONEME = 7
_EVENT_END_OF_LIST = 0
_RATE = 1
_WORDGAP = 7

# An English phoneme mnemonic of eSpeak whose first character is one of these is a vowel (a syllable's nucleus).
_VOWEL_STARTS = set("aeiouAEIOUV@03")
_LOCK = threading.Lock()


class _Id(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _Id),
    )


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Phoneme:
    name: str  # eSpeak's mnemonic, e.g. "aI", "s", "@"
    start: int  # sample where it starts

    @property
    def is_vowel(self) -> bool:
        bare = self.name.lstrip("',%=")
        return bool(bare) and bare[0] in _VOWEL_STARTS


@dataclass(frozen=True)
class Spoken:
    audio: np.ndarray  # float32 mono
    sample_rate: int
    phonemes: tuple[Phoneme, ...]  # in order; pauses ("_") removed


class _Engine:
    """The loaded library, its sample rate, and the buffers one synthesis fills."""

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data = Path(espeakng_loader.get_data_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        rate = self.lib.espeak_Initialize(_SYNCHRONOUS, 0, str(data.parent).encode(), _PHONEME_EVENTS | _DONT_EXIT)
        if rate <= 0:
            raise RuntimeError(f"eSpeak NG failed to start (data at {data})")
        self.sample_rate = rate
        self.data = data
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[str, int]] = []
        self._callback = _CALLBACK(self._collect)  # kept alive: the library holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.voice = ""

    def _collect(self, wav, samples, events) -> int:
        if samples > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(samples,)).astype(np.float32) / 32768.0)
        index = 0
        while events[index].type != _EVENT_END_OF_LIST:
            event = events[index]
            if event.type == _EVENT_PHONEME:
                name = event.id.string.decode("ascii", "replace")
                self.events.append((name, int(event.audio_position * self.sample_rate / 1000)))
            index += 1
        return 0

    def set_voice(self, name: str) -> None:
        if name != self.voice:
            if self.lib.espeak_SetVoiceByName(name.encode()) != 0:
                raise InputError(f"eSpeak NG has no voice {name!r}; see `vocal_language` for accepted languages")
            self.voice = name

    def speak(self, text: str, rate: int) -> Spoken:
        self.chunks, self.events = [], []
        # breathy voices mix in noise from eSpeak's own generator, seeded per process unless set here
        self.lib.espeak_ng_SetRandSeed(ctypes.c_long(1))
        self.lib.espeak_SetParameter(_RATE, rate, 0)
        self.lib.espeak_SetParameter(_WORDGAP, 0, 0)
        data = text.encode("utf-8") + b"\0"
        self.lib.espeak_Synth(data, len(data), 0, 0, 0, _CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        audio = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)
        phonemes = tuple(Phoneme(n, s) for n, s in self.events if n and not n.startswith("_"))
        return Spoken(audio, self.sample_rate, phonemes)

    def phonemes(self, text: str) -> str:
        pointer = ctypes.c_char_p(text.encode("utf-8"))
        parts = []
        while pointer.value:
            result = self.lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, 0)
            if result:
                parts.append(result.decode("utf-8", "replace"))
        return " ".join(parts)


@cache
def _engine() -> _Engine:
    return _Engine()


@cache
def languages() -> tuple[str, ...]:
    """Language codes eSpeak NG speaks (file names under its voices' `lang` tree)."""
    import espeakng_loader

    root = Path(espeakng_loader.get_data_path()) / "lang"
    return tuple(sorted(p.name for p in root.rglob("*") if p.is_file()))


def check_language(code: str) -> str:
    if code not in languages():
        raise InputError(f"vocal_language {code!r} is not one eSpeak NG speaks; accepted: {', '.join(languages())}")
    return code


def voice_name(language: str, variant: str) -> str:
    return f"{language}+{variant}" if variant else language


@cache
def speak(text: str, language: str = "en", variant: str = "", rate: int = 150) -> Spoken:
    """`text` spoken by eSpeak NG in `language` (a code from `languages()`) with a voice variant."""
    with _LOCK:
        engine = _engine()
        engine.set_voice(voice_name(language, variant))
        return engine.speak(text, rate)


@cache
def syllable_count(word: str, language: str) -> int:
    """Vowel nuclei in eSpeak's phonemes of `word` (for languages the CMU dictionary does not cover)."""
    with _LOCK:
        engine = _engine()
        engine.set_voice(language)
        phonemes = engine.phonemes(word)
    nuclei = re.findall(r"[aeiouAEIOUVyY@03&]+", re.sub(r"[',%=_:]", "", phonemes))
    return max(1, len(nuclei))
