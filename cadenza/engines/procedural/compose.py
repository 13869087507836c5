"""Style -> Score: form, harmony, parts, a real ending, and a human feel.

Randomness is hierarchical: material shared by every instance of a section kind (its chords, its
melody) comes from `rng("harmony"|"motif", kind)`; everything particular to one section comes from
`rng(section index, role)`. Changing one section therefore never shifts the notes of another.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from cadenza.engines.lyrics.sheet import Section as LyricSection
from cadenza.engines.procedural import parts, vocal
from cadenza.engines.procedural.genre_model import ARRANGEMENT_CLUB, Genre
from cadenza.engines.procedural.instruments import ROLE_MIX, ROLE_RANGE, SYNTH_PROGRAMS, instrument_slug
from cadenza.engines.procedural.melody import make_motif, realise, vary
from cadenza.engines.procedural.score import Chord, Note, Score, Section, Track
from cadenza.engines.procedural.style import Style
from cadenza.engines.procedural.theory import make_chord, voice

RngFactory = Callable[..., np.random.Generator]

VOCAL_PROGRAM = 53  # General MIDI "Voice Oohs"
ENDING_TAIL_SECONDS = 2.0  # the last chord rings and decays for at least this long
RELEASE_BEFORE_END_SECONDS = 0.2  # notes of the last chord stop this long before the end, into the fade

SECTION_ENERGY = {
    "intro": 0.45,
    "verse": 0.65,
    "prechorus": 0.75,
    "chorus": 0.95,
    "bridge": 0.6,
    "build": 0.75,
    "drop": 1.0,
    "breakdown": 0.45,
    "outro": 0.5,
    "solo": 0.9,
}
LEAD_SECTIONS = {"verse", "chorus", "bridge", "drop", "breakdown", "solo"}


def plan_bars(length_seconds: float, bpm: float, bar_beats: float) -> int:
    """How many bars fit, leaving room for the final chord to ring out."""
    bar_seconds = bar_beats * 60.0 / bpm
    return max(1, math.floor((length_seconds - ENDING_TAIL_SECONDS) / bar_seconds))


def arrange(template: tuple[tuple[str, int], ...], total_bars: int, genre_energy: float) -> list[Section]:
    """Fit the genre's form into `total_bars`: repeat its core when long; when short, trim the intro and
    outro, drop later core sections (keeping a verse and a chorus) and shorten the longest ones."""
    intro, *core, outro = template
    plan = [intro, *core, outro]
    repeat = 0
    while sum(b for _, b in plan) + core[repeat % len(core)][1] <= total_bars:
        plan.insert(-1, core[repeat % len(core)])
        repeat += 1
    kinds = [kind for kind, _ in plan]
    lengths = [bars for _, bars in plan]
    if sum(lengths) > total_bars:
        lengths[0], lengths[-1] = min(lengths[0], 2), min(lengths[-1], 2)
    while sum(lengths) > total_bars and len(kinds) > 4:
        del kinds[-2], lengths[-2]
    while sum(lengths) > total_bars and max(lengths) > 1:
        longest = max(range(len(lengths)), key=lambda i: (lengths[i], -i))
        lengths[longest] -= 2 if lengths[longest] > 4 else 1
    while sum(lengths) > total_bars and len(kinds) > 3:
        del kinds[-2], lengths[-2]  # keep a beginning, a body and the ending
    if len(kinds) == 3 and len(core) > 1:  # one body section left: the template's most intense one
        kinds[1] = max((kind for kind, _ in core), key=lambda kind: SECTION_ENERGY.get(kind, 0.6))
    while sum(lengths) > total_bars:
        del kinds[0], lengths[0]
    lengths[-2 if len(lengths) > 2 else -1] += total_bars - sum(lengths)
    sections, bar = [], 0
    for kind, bars in zip(kinds, lengths, strict=True):
        energy = min(1.0, SECTION_ENERGY.get(kind, 0.6) * (0.6 + 0.5 * genre_energy))
        sections.append(Section(kind, bar, bars, round(energy, 3)))
        bar += bars
    return sections


def harmonise(style: Style, sections: list[Section], rng: RngFactory) -> list[Chord]:
    """Chords for every bar: each section kind keeps its progression; the song ends V -> I."""
    genre, key = style.genre_spec, style.parsed_key
    bar_beats = style.meter.quarter_notes_per_bar
    bank = genre.major if key.mode == "major" else genre.minor
    chords: list[Chord] = []
    for section in sections:
        progression = bank[int(rng("harmony", section.kind).integers(len(bank)))].split()
        for bar in range(section.bars):
            symbols = progression[bar % len(progression)].split(":")
            start = (section.start_bar + bar) * bar_beats
            for i, symbol in enumerate(symbols):
                duration = bar_beats / len(symbols)
                chords.append(make_chord(symbol, key, start + i * duration, duration, genre.sevenths))
    total_bars = sections[-1].start_bar + sections[-1].bars
    tonic = "I" if key.mode == "major" else "i"
    last_bar_start = (total_bars - 1) * bar_beats
    chords = [c for c in chords if c.start < last_bar_start - 1e-6]
    if total_bars >= 2:
        penultimate = last_bar_start - bar_beats
        chords = [c for c in chords if c.start < penultimate - 1e-6]
        chords.append(make_chord("V7" if genre.sevenths else "V", key, penultimate, bar_beats, False))
    chords.append(make_chord(tonic, key, last_bar_start, bar_beats, False))
    return chords


def compose(
    style: Style,
    length_seconds: float,
    rng: RngFactory,
    lyrics: list[LyricSection] | None = None,
    form: list[Section] | None = None,
    harmony: list[Chord] | None = None,
) -> Score:
    """Write the whole song for `style`, lasting exactly `length_seconds` once rendered; with lyrics, the
    form follows their tags and a vocal line sings them. A cover passes the `form` and `harmony` to keep."""
    genre = style.genre_spec
    meter = style.meter
    if form:
        sections = [Section(s.kind, s.start_bar, s.bars, s.energy) for s in form]
        total_bars = sum(s.bars for s in sections)
    else:
        total_bars = plan_bars(length_seconds, style.bpm, meter.quarter_notes_per_bar)
        if lyrics:
            bar_seconds = meter.quarter_notes_per_bar * 60.0 / style.bpm
            sections = vocal.plan_sections(lyrics, total_bars, lambda bars: bars * bar_seconds + ENDING_TAIL_SECONDS)
        else:
            sections = arrange(genre.arrangement, total_bars, style.energy)
    score = Score(style.bpm, style.parsed_key, meter, sections, [], [], length_seconds, list(style.textures))
    score.voice, score.timbre, score.vocal_language = style.voice, style.timbre, style.vocal_language
    score.brightness = style.brightness
    score.chords = list(harmony) if harmony else harmonise(style, sections, rng)
    score.tracks = _tracks(style, genre)
    if lyrics:
        pan, gain, reverb = ROLE_MIX["vocal"]
        score.tracks = [t for t in score.tracks if t.role != "lead"]
        score.tracks.append(Track("vocal", "vocal", VOCAL_PROGRAM, False, pan, gain, reverb))
    by_role = {t.role: t for t in score.tracks}
    ending_bar = total_bars - 1
    voicings: dict[str, list[int] | None] = {"chords": None, "pad": None}
    lead_pitch: int | None = None

    for index, section in enumerate(sections):
        section_bars = range(section.start_bar, min(section.start_bar + section.bars, ending_bar))
        for build_index, bar_number in enumerate(section_bars):
            bar = _bar(score, section, bar_number)
            bar_rng = rng(index, "bar", bar_number - section.start_bar)
            if "drums" in by_role:
                by_role["drums"].notes += parts.drums(genre, bar, bar_rng, build_index)
            if "bass" in by_role and _plays("bass", section, genre):
                by_role["bass"].notes += parts.bass(genre, bar, bar_rng)
            if "chords" in by_role and _plays("chords", section, genre):
                notes, voicings["chords"] = parts.chords(genre, bar, bar_rng, voicings["chords"])
                by_role["chords"].notes += notes
            if "pad" in by_role and _plays("pad", section, genre):
                notes, voicings["pad"] = parts.pad(bar, voicings["pad"])
                by_role["pad"].notes += notes
            if "arp" in by_role and _plays("arp", section, genre):
                by_role["arp"].notes += parts.arp(bar, fast=genre.arrangement == ARRANGEMENT_CLUB)
            if "timpani" in by_role and section.kind in ("chorus", "bridge", "drop"):
                by_role["timpani"].notes += parts.timpani(bar)
        if "lead" in by_role and (section.kind in LEAD_SECTIONS or genre.name in ("classical", "baroque")):
            notes, lead_pitch = _melody(score, section, genre, rng, ending_bar, lead_pitch, style.density)
            by_role["lead"].notes += notes

    if lyrics:
        by_role["vocal"].notes, score.lyric_events, score.lyric_lines = vocal.sing(score, lyrics, rng)
    _ending(score, by_role, ending_bar, lead_pitch)
    _ring_on(score, by_role, ending_bar)
    _humanise(score, genre, rng)
    score.tracks = [t for t in score.tracks if t.notes]
    return score


def _tracks(style: Style, genre: Genre) -> list[Track]:
    tracks = []
    if genre.drums is not None:
        pan, gain, reverb = ROLE_MIX["drums"]
        tracks.append(Track("drums", "drums", 0, True, pan, gain, reverb))
    if genre.drums is not None and genre.kit != "gm":
        tracks[0].synth = genre.kit
    slugs = [instrument_slug(p) for p in style.instruments.values()]
    for role, instrument in style.instruments.items():
        pan, gain, reverb = ROLE_MIX[role]
        pan = genre.pans.get(role, pan)
        slug = instrument_slug(instrument)
        name = slug if slugs.count(slug) == 1 else f"{slug}-{role}"
        reverb = min(0.6, reverb * (1.6 if genre.name in ("ambient", "cinematic", "shoegaze") else 1.0))
        program = SYNTH_PROGRAMS[instrument] if isinstance(instrument, str) else instrument
        track = Track(name, role, program, False, pan, gain, reverb)
        track.synth = instrument if isinstance(instrument, str) else ""
        tracks.append(track)
    return tracks


def _plays(role: str, section: Section, genre: Genre) -> bool:
    """The energy arc: which layers sound in which section."""
    if genre.name in ("ambient", "classical", "cinematic", "orchestral", "baroque"):
        return role != "arp" or section.kind not in ("intro", "outro")
    rules = {
        "bass": section.kind not in ("intro", "breakdown") or section.energy >= 0.6,
        "chords": section.kind != "build" or section.energy < 0.5,
        "pad": section.kind in ("intro", "chorus", "bridge", "breakdown", "drop", "outro"),
        "arp": section.kind in ("chorus", "drop", "build"),
    }
    return rules.get(role, True)


def _bar(score: Score, section: Section, bar_number: int) -> parts.Bar:
    start = bar_number * score.bar_beats
    end = start + score.bar_beats
    in_bar = [c for c in score.chords if start - 1e-6 <= c.start < end - 1e-6] or [score.chord_at(start)]
    next_root = score.chord_at(end).root
    last = bar_number == section.start_bar + section.bars - 1
    return parts.Bar(start, score.meter, in_bar, next_root, section.energy, section.kind, last)


def _melody(
    score: Score,
    section: Section,
    genre: Genre,
    rng: RngFactory,
    ending_bar: int,
    previous: int | None,
    density: float = 1.0,
) -> tuple[list[Note], int | None]:
    low, high = ROLE_RANGE["lead"]
    motif_rng = rng("motif", section.kind)
    busier = 1.3 if section.kind == "solo" else 1.0  # a solo plays more notes than the tune
    motif = make_motif(motif_rng, score.bar_beats, min(0.95, genre.lead_density * density * busier))
    answer = vary(motif, motif_rng)
    bars = min(section.bars, ending_bar - section.start_bar)
    motifs = [motif if i % 2 == 0 else answer for i in range(bars // 2)]
    if not motifs:
        return [], previous
    start = section.start_bar * score.bar_beats
    last_section = section.start_bar + section.bars >= ending_bar
    velocity = 100 if section.kind in ("chorus", "drop") else 90
    # Each kind starts from the same place, so every chorus sings the same tune whatever came before.
    return realise(score, motifs, start, low, high, section.kind == "chorus" or last_section, velocity)


def _ending(score: Score, by_role: dict[str, Track], ending_bar: int, lead_pitch: int | None) -> None:
    """Every pitched part lands on the tonic chord at the last bar and lets it ring."""
    start = ending_bar * score.bar_beats
    hold = (score.length_seconds - RELEASE_BEFORE_END_SECONDS) * score.bpm / 60.0 - start
    tonic = score.chord_at(start)
    for role, track in by_role.items():
        if role == "drums":
            track.notes += [Note(start, 1.0, 49, 96), Note(start, 1.0, 36, 104)]
        elif role in ("chords", "pad"):
            low, high = ROLE_RANGE[role]
            pitches = voice(tonic.tones, None, low, high)
            track.notes += [Note(start, hold, p, 84) for p in pitches]

        elif role in ("bass", "timpani"):
            low, _ = ROLE_RANGE[role]
            track.notes.append(Note(start, hold, low + (tonic.root - low) % 12, 96))
        elif role == "lead":
            low, high = ROLE_RANGE["lead"]
            target = lead_pitch if lead_pitch is not None else (low + high) / 2
            pitch = min((p for p in range(low, high + 1) if p % 12 == tonic.root), key=lambda p: abs(p - target))
            track.notes.append(Note(start, hold, pitch, 88))


def _ring_on(score: Score, by_role: dict[str, Track], ending_bar: int) -> None:
    """Pianos, guitars and mallets die away before a long final chord ends: strike it again, softly and
    rolled, halfway through, so the song sounds to its last second."""
    start = ending_bar * score.bar_beats
    for track in by_role.values():
        if track.is_drum or track.synth or not (track.program < 16 or 24 <= track.program < 32 or track.program > 103):
            continue
        final = [n for n in track.notes if abs(n.start - start) < 1e-6 and n.duration > 4.0]
        for i, note in enumerate(sorted(final, key=lambda n: n.pitch)):
            half = note.duration / 2
            track.notes.append(Note(start + half + 0.08 * i, half - 0.08 * i, note.pitch, 58))


def _humanise(score: Score, genre: Genre, rng: RngFactory) -> None:
    """Swing the off-beats, then nudge timing (a few ms) and velocity, per section and track."""
    seconds_per_beat = 60.0 / score.bpm
    for track in score.tracks:
        # The vocal keeps its grid so lyric events and .lrc times stay on its notes.
        jitter_ms = 2.0 if track.is_drum else 0.0 if track.role == "vocal" else 7.0
        for index, section in enumerate(score.sections):
            start, end = (
                section.start_bar * score.bar_beats,
                (section.start_bar + section.bars) * score.bar_beats,
            )
            notes = [n for n in track.notes if start - 1e-6 <= n.start < end - 1e-6]
            if not notes:
                continue
            generator = rng(index, track.role, "humanise")
            offsets = generator.normal(0.0, jitter_ms / 1000.0 / seconds_per_beat, len(notes))
            velocity_offsets = generator.integers(-6, 7, len(notes))
            for note, offset, dv in zip(notes, offsets, velocity_offsets, strict=True):
                swung = note.start if track.role == "vocal" else _swing(note.start, genre.swing, genre.swing_unit)
                note.start = max(0.0, swung + (0.0 if note.start == start else float(offset)))
                note.velocity = int(np.clip(note.velocity + dv, 1, 127))


def _swing(beat: float, amount: float, unit: int) -> float:
    if amount <= 0.5:
        return beat
    pair = 1.0 if unit == 8 else 0.5
    base = math.floor(beat / pair + 1e-9) * pair
    position = (beat - base) / pair
    moved = position * 2 * amount if position <= 0.5 else amount + (position - 0.5) * 2 * (1 - amount)
    return base + moved * pair
