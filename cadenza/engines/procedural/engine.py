"""The procedural engine: composes a song from the prompt and renders it with SoundFont instruments.

from cadenza.engines.base import RunContext
from cadenza.engines.procedural.engine import ProceduralEngine
from cadenza.tasks import GenerateRequest

engine = ProceduralEngine()
out = engine.run(GenerateRequest(prompt="lofi hip hop, rainy night", duration=30, seed=7),
                 RunContext(seed=7, scratch=Path("/tmp/song")))
print([a.role for a in out.artifacts], out.recipe["style"])
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cadenza import __version__
from cadenza.engines.base import Artifact, EngineOutput, RunContext
from cadenza.engines.lyrics.sheet import Section as LyricSection
from cadenza.engines.lyrics.sheet import parse_sheet, render_sheet
from cadenza.engines.procedural import cover, foreign, iterate, render, speech
from cadenza.engines.procedural.compose import compose
from cadenza.engines.procedural.score import Score
from cadenza.engines.procedural.soundfont import PIN_PATTERN, Renderer, pick_renderer, renderer_for
from cadenza.engines.procedural.style import resolve_style
from cadenza.errors import InputError
from cadenza.media.io import atomic_path, audio_stream, mime_for, write_audio
from cadenza.media.loudness import master
from cadenza.media.memory import keep_freed_memory
from cadenza.media.midi import MidiNote, MidiTrack, key_signature, write_midi
from cadenza.tasks import (
    MAX_SECONDS,
    CoverRequest,
    EditRequest,
    ExtendRequest,
    GenerateRequest,
    Key,
    TaskRequest,
    describe_validation_error,
)


class ProceduralAdvanced(BaseModel):
    """Extra knobs of the procedural engine (the UI draws them from this schema)."""

    model_config = ConfigDict(extra="forbid")

    target_lufs: float = Field(-14.0, ge=-30.0, le=-6.0, description="Integrated loudness of the master")
    true_peak_db: float = Field(-1.0, ge=-6.0, le=0.0, description="True-peak ceiling of the master, dBTP")
    energy: float | None = Field(None, ge=0.1, le=1.0, description="Override the intensity read from the prompt")
    voice: Literal["auto", "soprano", "alto", "tenor", "baritone"] = Field(
        "auto", description="The singer's register when the song has lyrics (auto: from the prompt)"
    )
    timbre: Literal["auto", "clear", "warm", "bright", "breathy"] = Field("auto", description="The singer's timbre")
    vocal_language: str = Field(
        "en", description="Language the lyrics are sung in (an eSpeak NG code: en, es, fr, de...)"
    )
    soundfont: str | None = Field(
        None,
        pattern=PIN_PATTERN,
        description="The exact SoundFont to play, NAME@sha256:HEX, or 'builtin' for the built-in synthesiser "
        "(a recipe records it; refused when no such file is installed). Empty: the best one installed",
    )


# Recorded in every recipe with the package version: bumped with each deliberate change of what a recipe
# renders to. 2: edit/extend keep the sung words, click-free synth attacks, five grooves read at tempo.
REVISION = 2


class ProceduralEngine:
    name = "procedural"
    version = f"{__version__}+procedural.{REVISION}"
    tasks = ("generate", "edit", "extend", "cover")

    def __init__(self) -> None:
        keep_freed_memory()

    def available(self) -> tuple[bool, str]:
        renderer = pick_renderer()
        return True, renderer.note

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return ProceduralAdvanced

    def check_request(self, request: TaskRequest) -> None:
        """A pinned SoundFont must be installed: refused at submission (4xx / exit 2), not as a failed job."""
        renderer_for(_advanced(request.advanced).soundfont)

    def estimate_seconds(self, request: TaskRequest) -> float:
        return 0.5 + getattr(request, "duration", 30.0) / 60.0

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        """Compose, render, mix and master one song; write mix, stems, MIDI and recipe into ctx.scratch."""
        if isinstance(request, EditRequest):
            return self._edit(request, ctx)
        if isinstance(request, ExtendRequest):
            return self._extend(request, ctx)
        if isinstance(request, CoverRequest):
            return self._cover(request, ctx)
        # 1. Check inputs and understand the prompt.
        if not isinstance(request, GenerateRequest):
            raise InputError(f"the procedural engine does not serve task {request.task!r}")  # type: ignore[attr-defined]
        advanced = _advanced(request.advanced)
        style = resolve_style(request)
        if advanced.energy is not None:
            style.energy = advanced.energy
        style.voice = style.voice if advanced.voice == "auto" else advanced.voice
        style.timbre = style.timbre if advanced.timbre == "auto" else advanced.timbre
        style.vocal_language = speech.check_language(advanced.vocal_language)

        lyrics = _lyrics(request.lyrics)

        # 2. Compose.
        ctx.progress(0.02, "compose")
        score = compose(style, request.duration, ctx.rng, lyrics)
        ctx.check_cancelled()

        # 3-5. Render, master and write.
        recipe = {
            "engine": self.name,
            "engine_version": self.version,
            "task": "generate",
            "seed": ctx.seed,
            "request": request.model_dump(mode="json") | {"seed": ctx.seed},
            "style": style.to_dict(),
        }
        return self._produce(score, ctx, request.format, request.prompt, advanced, recipe, lyrics)

    def _renderer(self, pin: str | None, recipe: dict[str, Any]) -> Renderer:
        """The pinned renderer (or today's best), recorded in the recipe and in its request, so that
        `--recipe` replays play that exact SoundFont or are refused."""
        renderer = renderer_for(pin)
        request = recipe.get("request")
        if isinstance(request, dict):
            request["advanced"] = {**(request.get("advanced") or {}), "soundfont": renderer.pin}
        return renderer

    def _produce(
        self,
        score: Score,
        ctx: RunContext,
        audio_format: str,
        title: str,
        advanced: ProceduralAdvanced,
        recipe: dict[str, Any],
        lyrics: list[LyricSection] | None = None,
    ) -> EngineOutput:
        """Render every track to a stem (written block by block as it renders), master their sum, write the rest."""
        renderer = self._renderer(advanced.soundfont, recipe)
        ctx.progress(0.1, "render")
        stems: list[Artifact] = []

        @contextmanager
        def open_stem(name: str) -> Iterator[Callable[[np.ndarray], None]]:
            # 32-bit float keeps the stems' sum equal to the pre-master mix to far below -100 dB.
            path = ctx.scratch / "stems" / f"{name}.wav"
            with audio_stream(path, render.SAMPLE_RATE, 2, "FLOAT") as write:
                yield write
            stems.append(Artifact(path, "stem", f"stem:{name}", "audio/wav", score.length_seconds, render.SAMPLE_RATE))

        premix = render.stream_song(
            score,
            renderer,
            ctx.rng,
            open_stem,
            lambda f: ctx.progress(0.1 + 0.7 * f, "render"),
            ctx.check_cancelled,
        )

        # The master bus: glue compression, then loudness and true peak.
        ctx.progress(0.85, "master")
        mastered, report = master(
            render.bus_compress(premix, in_place=True),
            render.SAMPLE_RATE,
            advanced.target_lufs,
            advanced.true_peak_db,
        )
        ctx.check_cancelled()

        ctx.progress(0.95, "write")
        artifacts = [*_write(ctx.scratch, audio_format, title, score, mastered), *stems]
        if lyrics:
            artifacts += _write_lyrics(ctx.scratch, score, lyrics)
        recipe = recipe | {
            "structure": [{"kind": s.kind, "start_bar": s.start_bar, "bars": s.bars} for s in score.sections],
            "renderer": renderer.to_recipe(),
            "sample_rate": render.SAMPLE_RATE,
            "length_seconds": score.length_seconds,
            "master": report.to_dict(),
        }
        artifacts.append(_write_recipe(ctx.scratch, recipe))
        ctx.progress(1.0, "done")
        return EngineOutput(artifacts, recipe)

    def _cover(self, request: CoverRequest, ctx: RunContext) -> EngineOutput:
        """Re-arrange a song's melody and harmony in the style of the prompt."""
        source = ctx.source()
        ctx.progress(0.05, "analyse")
        if iterate.is_procedural(source):
            source_style, source_score = iterate.replay(source.recipe)
            line = next((t for t in source_score.tracks if t.role in ("lead", "vocal")), None)
            melody = list(line.notes) if line else []
            form, chords, length = source_score.sections, source_score.chords, source_score.length_seconds
            bpm, key, meter, analysis = source_style.bpm, source_style.key, source_style.time_signature, None
        else:
            transcription = foreign.transcribe(source.path)
            bpm, key, meter = transcription.bpm, transcription.key, "4/4"
            melody, chords, form = transcription.melody, transcription.chords, transcription.form
            length, analysis = transcription.length_seconds, transcription.analysis
        wanted = GenerateRequest(
            prompt=request.prompt,
            bpm=request.bpm or bpm,
            key=request.key or key,
            time_signature=meter,
            genre=request.genre,
            seed=ctx.seed,
        )
        style = resolve_style(wanted)
        semitones = (Key.parse(style.key).tonic - Key.parse(key).tonic + 6) % 12 - 6
        length = min(MAX_SECONDS, max(5.0, length * bpm / style.bpm))
        ctx.progress(0.08, "compose")
        score = cover.arrange_cover(
            style,
            length,
            ctx.rng,
            form,
            cover.transpose_chords(chords, semitones),
            cover.fit_register(melody, semitones, 0, 127),
            request.strength,
        )
        recipe = {
            "engine": self.name,
            "engine_version": self.version,
            "task": "cover",
            "seed": ctx.seed,
            "request": request.model_dump(mode="json") | {"seed": ctx.seed},
            "style": style.to_dict(),
            "source": {"name": source.name, "bpm": bpm, "key": key, "analysis": analysis},
        }
        advanced = ProceduralAdvanced(soundfont=_advanced(request.advanced).soundfont)
        return self._produce(score, ctx, request.format, request.prompt, advanced, recipe)

    def _edit(self, request: EditRequest, ctx: RunContext) -> EngineOutput:
        """Repaint bars: the source's score is replayed, the snapped range recomposed from this seed."""
        source = ctx.source()
        if not iterate.is_procedural(source):
            return self._edit_foreign(request, ctx)
        recipe = source.recipe or {}
        style, score = iterate.replay(recipe)
        start_bar, end_bar = iterate.snap(score, request.start, request.end)
        ctx.progress(0.05, "compose")
        edited = iterate.repaint(score, style, start_bar, end_bar, ctx.seed, request.prompt)
        start, end = start_bar * score.bar_beats, end_bar * score.bar_beats
        ctx.progress(0.15, "render")
        ramp = render.frames_at(iterate.EDIT_CROSSFADE_S)
        edges = [(render.frames_at(score.seconds(start)), render.frames_at(score.seconds(end)), ramp)]
        renderer = _source_renderer(request, recipe)
        stems = iterate.changed_stems(
            source, edited, renderer, ctx.rng, (start, end), False, edges, ctx.check_cancelled
        )
        operation = {
            "op": "edit",
            "start_bar": start_bar,
            "end_bar": end_bar,
            "seed": ctx.seed,
            "start_s": round(score.seconds(start), 4),
            "end_s": round(score.seconds(end), 4),
            "prompt": request.prompt,
        }
        return self._publish(request, ctx, edited, stems, recipe, operation, renderer)

    def _extend(self, request: ExtendRequest, ctx: RunContext) -> EngineOutput:
        """Continue a song: kept up to its final bar, then new sections and the ending at the new end."""
        source = ctx.source()
        if not iterate.is_procedural(source):
            return self._extend_foreign(request, ctx)
        recipe = source.recipe or {}
        style, score = iterate.replay(recipe)
        length = _extended_length(score.length_seconds, request.seconds)
        ctx.progress(0.05, "compose")
        lyrics = iterate.lyrics_of(recipe)
        longer = iterate.continue_score(score, style, length, ctx.seed, request.prompt, lyrics)
        join = iterate.join_bar(score) * score.bar_beats
        ctx.progress(0.15, "render")
        frames, ramp = render.frames_at(length), render.frames_at(iterate.EXTEND_CROSSFADE_S)
        edges = [(render.frames_at(score.seconds(join)) + ramp // 2, frames + ramp, ramp)]
        renderer = _source_renderer(request, recipe)
        stems = iterate.changed_stems(
            source, longer, renderer, ctx.rng, (join, math.inf), True, edges, ctx.check_cancelled
        )
        operation = {
            "op": "extend",
            "length_seconds": length,
            "seed": ctx.seed,
            "join_s": round(score.seconds(join), 4),
            "prompt": request.prompt,
        }
        return self._publish(request, ctx, longer, stems, recipe, operation, renderer)

    def _extend_foreign(self, request: ExtendRequest, ctx: RunContext) -> EngineOutput:
        """Other audio: measured, then continued from its last bar line in its tempo and key."""
        ctx.progress(0.05, "analyse")
        audio, analysis = foreign.analyse(ctx.source().path)
        join_s = foreign.bar_line(analysis, analysis["seconds"] - 1.0, round_down=True)
        total_s = _extended_length(analysis["seconds"], request.seconds)
        ctx.progress(0.2, "compose")
        new = foreign.material(request.prompt, analysis, total_s - join_s, ctx.seed, ctx)
        join = render.frames_at(join_s)
        new = foreign.match_loudness(new, audio[max(0, join - 10 * render.SAMPLE_RATE) : join])
        result = foreign.crossfade(audio, new, join, render.frames_at(iterate.EXTEND_CROSSFADE_S))
        return self._publish_foreign(request, ctx, result, analysis, {"op": "extend", "join_s": round(join_s, 4)})

    def _edit_foreign(self, request: EditRequest, ctx: RunContext) -> EngineOutput:
        """Other audio: the range, snapped to its measured bar lines, replaced by matching material."""
        ctx.progress(0.05, "analyse")
        audio, analysis = foreign.analyse(ctx.source().path)
        start_s, end_s = foreign.bar_line(analysis, request.start), foreign.bar_line(analysis, request.end)
        if end_s <= start_s:
            end_s = start_s + analysis["bar_s"]
        if start_s < analysis["seconds"] < end_s:
            raise InputError(
                f"the range {request.start:g}-{request.end:g} s runs past the end of the source "
                f"({analysis['seconds']:.2f} s); end the range there or earlier"
            )
        if end_s > analysis["seconds"]:
            raise InputError(
                f"the range {request.start:g}-{request.end:g} s lies outside the source ({analysis['seconds']:.2f} s)"
            )
        ctx.progress(0.2, "compose")
        new = foreign.material(request.prompt, analysis, end_s - start_s + 1.0, ctx.seed, ctx)
        start, end = render.frames_at(start_s), render.frames_at(end_s)
        new = foreign.match_loudness(new, audio[start:end])
        ramp = render.frames_at(iterate.EDIT_CROSSFADE_S)
        weights = iterate.crossfade_weights(len(audio), [(start, end, ramp)])
        placed = np.zeros_like(audio)
        placed[max(0, start - ramp) : end + ramp] = new[: len(placed[max(0, start - ramp) : end + ramp])]
        result = audio * (1 - weights) + placed * weights
        edit = {"op": "edit", "start_s": round(start_s, 4), "end_s": round(end_s, 4)}
        return self._publish_foreign(request, ctx, result, analysis, edit)

    def _publish_foreign(
        self,
        request: EditRequest | ExtendRequest,
        ctx: RunContext,
        audio: np.ndarray,
        analysis: dict[str, Any],
        operation: dict[str, Any],
    ) -> EngineOutput:
        ctx.progress(0.9, "write")
        path = write_audio(ctx.scratch / f"mix.{request.format}", audio, render.SAMPLE_RATE)
        seconds = len(audio) / render.SAMPLE_RATE
        recipe = {
            "engine": self.name,
            "engine_version": self.version,
            "task": request.task,
            "seed": ctx.seed,
            "request": request.model_dump(mode="json") | {"seed": ctx.seed},
            "analysis": analysis,
            "operations": [operation],
            "length_seconds": seconds,
            "sample_rate": render.SAMPLE_RATE,
        }
        artifacts = [Artifact(path, "audio", "mix", mime_for(path), seconds, render.SAMPLE_RATE)]
        return EngineOutput(artifacts, recipe)

    def _publish(
        self,
        request: EditRequest | ExtendRequest,
        ctx: RunContext,
        score: Score,
        stems: dict[str, np.ndarray],
        source_recipe: dict[str, Any],
        operation: dict[str, Any],
        renderer: Renderer,
    ) -> EngineOutput:
        """Write the stems, master their sum, write mix, MIDI and a recipe that replays to this song."""
        ctx.check_cancelled()
        ctx.progress(0.7, "master")
        artifacts = []
        for name, audio in stems.items():
            path = write_audio(ctx.scratch / "stems" / f"{name}.wav", audio, render.SAMPLE_RATE, subtype="FLOAT")
            artifacts.append(
                Artifact(path, "stem", f"stem:{name}", "audio/wav", score.length_seconds, render.SAMPLE_RATE)
            )
        premix = render.mixdown(stems)
        base, operations = iterate.operations_of(source_recipe)
        advanced = _advanced(base["request"].get("advanced", {}))
        mastered, report = master(
            render.bus_compress(premix, in_place=True),
            render.SAMPLE_RATE,
            advanced.target_lufs,
            advanced.true_peak_db,
        )
        ctx.progress(0.95, "write")

        recipe = {
            "engine": self.name,
            "engine_version": self.version,
            "task": request.task,
            "seed": ctx.seed,
            "request": request.model_dump(mode="json") | {"seed": ctx.seed},
            "style": source_recipe["style"],
            "base": base,
            "operations": [*operations, operation],
            "length_seconds": score.length_seconds,
            "structure": [{"kind": s.kind, "start_bar": s.start_bar, "bars": s.bars} for s in score.sections],
            "renderer": renderer.to_recipe(),
            "sample_rate": render.SAMPLE_RATE,
            "master": report.to_dict(),
        }
        artifacts = [
            *_write(ctx.scratch, request.format, base["request"].get("prompt", ""), score, mastered),
            *artifacts,
        ]
        lyrics = iterate.lyrics_of(source_recipe)
        if lyrics and score.lyric_lines:
            artifacts += _write_lyrics(ctx.scratch, score, _as_sung(lyrics, score))
        artifacts.append(_write_recipe(ctx.scratch, recipe))
        return EngineOutput(artifacts, recipe)


def _extended_length(seconds: float, more: float) -> float:
    if seconds + more > MAX_SECONDS:
        raise InputError(f"the extended song would last {seconds + more:g} s; the longest is {MAX_SECONDS:g} s")
    return seconds + more


def _source_renderer(request: EditRequest | ExtendRequest, source_recipe: dict[str, Any]) -> Renderer:
    """New bars play the SoundFont the song was made with (its base request's pin), unless this request
    pins another; a song from before pins plays today's best, as it did."""
    pin = _advanced(request.advanced).soundfont
    if pin is None:
        base, _ = iterate.operations_of(source_recipe)
        pin = (base.get("request", {}).get("advanced") or {}).get("soundfont")
    return renderer_for(pin)


def _advanced(values: dict[str, Any]) -> ProceduralAdvanced:
    try:
        return ProceduralAdvanced.model_validate(values)
    except ValidationError as exc:
        raise InputError("advanced." + describe_validation_error(exc)) from None


def score_to_midi(score: Score) -> list[MidiTrack]:
    return [
        MidiTrack(
            t.name,
            t.program,
            t.is_drum,
            [MidiNote(n.start, n.duration, n.pitch, n.velocity) for n in t.notes],
            score.lyric_events if t.role == "vocal" else [],
        )
        for t in score.tracks
    ]


def _lyrics(text: str | None) -> list[LyricSection] | None:
    if not text or not text.strip():
        return None
    sections = parse_sheet(text)
    if not sections:
        raise InputError("the lyrics have no lines to sing; write one line per sung phrase under tags like [Verse]")
    return sections


def _as_sung(lyrics: list[LyricSection], score: Score) -> list[LyricSection]:
    """The sheet with the lines an extension sang again (its choruses) appended as choruses."""
    written = sum(len(s.lines) for s in lyrics)
    again = [text for _, text in score.lyric_lines[written:]]
    size = next((len(s.lines) for s in lyrics if s.kind == "chorus" and s.lines), len(again)) or 1
    return lyrics + [LyricSection("chorus", again[i : i + size]) for i in range(0, len(again), size)]


def _write_lyrics(scratch: Path, score: Score, lyrics: list[LyricSection]) -> list[Artifact]:
    """The sheet as sung, and an .lrc file with the time each line starts."""
    sheet = scratch / "lyrics.txt"
    sheet.write_text(render_sheet(lyrics))
    lrc_lines = []
    for beat, text in score.lyric_lines:
        seconds = score.seconds(beat)
        lrc_lines.append(f"[{int(seconds // 60):02d}:{seconds % 60:05.2f}]{text}")
    lrc = scratch / "lyrics.lrc"
    lrc.write_text("\n".join(lrc_lines) + "\n")
    return [Artifact(sheet, "lyrics", "lyrics", "text/plain"), Artifact(lrc, "lyrics", "lrc", "text/plain")]


def _write_recipe(scratch: Path, recipe: dict[str, Any]) -> Artifact:
    path = scratch / "recipe.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(recipe, indent=2, sort_keys=True))
    return Artifact(path, "recipe", "recipe", "application/json")


def _write(scratch: Path, audio_format: str, title: str, score: Score, mastered: np.ndarray) -> list[Artifact]:
    sample_rate, seconds = render.SAMPLE_RATE, score.length_seconds
    mix_path = write_audio(scratch / f"mix.{audio_format}", mastered, sample_rate)
    artifacts = [Artifact(mix_path, "audio", "mix", mime_for(mix_path), seconds, sample_rate)]
    midi_path = write_midi(
        scratch / "song.mid",
        bpm=score.bpm,
        time_signature=(score.meter.numerator, score.meter.denominator),
        key=key_signature(score.key.tonic, score.key.mode),
        tracks=score_to_midi(score),
        title=title[:60],
    )
    artifacts.append(Artifact(midi_path, "midi", "midi", "audio/midi"))
    return artifacts
