"""The lyrics engines: `rhyme` writes here and now; `llm` asks a language model and normalises its answer.

cadenza lyrics "a rainy night in Lisbon" --structure verse,chorus,verse,chorus,bridge,chorus
CADENZA_LLM_URL=http://localhost:11434 CADENZA_LLM_MODEL=llama3.2 cadenza lyrics "..." --engine llm
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

from cadenza import __version__
from cadenza.engines.base import Artifact, EngineOutput, RunContext
from cadenza.engines.lyrics.rhyme import SCHEMES, SYLLABLES, title_for, write_lyrics
from cadenza.engines.lyrics.sheet import SECTION_NAMES, Section, parse_sheet, render_sheet
from cadenza.errors import EngineError, EngineUnavailable, InputError
from cadenza.tasks import LyricsRequest, TaskRequest


def _output(ctx: RunContext, sections: list[Section], recipe: dict) -> EngineOutput:
    path = ctx.scratch / "lyrics.txt"
    path.write_text(render_sheet(sections))
    return EngineOutput([Artifact(path, "lyrics", "lyrics", "text/plain")], recipe)


def _recipe(engine: str, request: LyricsRequest, ctx: RunContext, **extra: object) -> dict:
    return {
        "engine": engine,
        "engine_version": __version__,
        "task": "lyrics",
        "seed": ctx.seed,
        "request": request.model_dump(mode="json") | {"seed": ctx.seed},
        **extra,
    }


class RhymeEngine:
    name = "rhyme"
    version = __version__
    tasks = ("lyrics",)

    def available(self) -> tuple[bool, str]:
        return True, "embedded: English lyrics with checked rhymes and steady syllable counts"

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return None

    def estimate_seconds(self, request: TaskRequest) -> float:
        return 1.0

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        assert isinstance(request, LyricsRequest)
        if request.language.lower() not in ("en", "english"):
            raise InputError(f"the rhyme engine writes English only (language {request.language!r}); use --engine llm")
        ctx.progress(0.1, "write")
        sections = write_lyrics(request.theme, list(request.structure), ctx.seed)
        schemes = {kind: SCHEMES.get(kind) for kind in request.structure}
        syllables = {kind: SYLLABLES.get(kind) for kind in request.structure}
        title = title_for(request.theme, ctx.seed)
        recipe = _recipe(self.name, request, ctx, schemes=schemes, syllables=syllables, title=title)
        return _output(ctx, sections, recipe)


class LlmAdvanced(BaseModel):
    temperature: float = Field(0.9, ge=0.0, le=2.0)
    max_tokens: int = Field(700, ge=50, le=4000)


SYSTEM_PROMPT = (
    "You are a professional songwriter. Write original song lyrics. Answer with the lyrics only: each section "
    "starts with a tag on its own line ([Verse 1], [Chorus], [Bridge], ...), then one line per sung phrase. "
    "No commentary, no titles, no chords."
)


def normalise(answer: str, structure: list[str]) -> list[Section]:
    """The model's sections in the requested order; a repeated chorus reuses the first one."""
    found = parse_sheet(answer)
    pools: dict[str, list[Section]] = {}
    for section in found:
        pools.setdefault(section.kind, []).append(section)
    result: list[Section] = []
    first_of: dict[str, Section] = {}
    for kind in structure:
        if pools.get(kind):
            section = pools[kind].pop(0)
        elif kind in first_of:
            section = first_of[kind]
        else:
            raise EngineError(f"the model's answer has no {SECTION_NAMES.get(kind, kind)} section to use")
        first_of.setdefault(kind, section)
        result.append(section)
    return result


class LlmEngine:
    """Any OpenAI-compatible chat server (Ollama, llama.cpp server, vLLM), or a local transformers model."""

    name = "llm"
    version = __version__
    tasks = ("lyrics",)

    def __init__(self) -> None:
        self.url = os.environ.get("CADENZA_LLM_URL", "").rstrip("/")
        self.model = os.environ.get("CADENZA_LLM_MODEL", "")
        self.api_key = os.environ.get("CADENZA_LLM_API_KEY", "")

    def available(self) -> tuple[bool, str]:
        if self.url:
            return True, f"chat server {self.url}, model {self.model or '(server default)'}"
        if self.model and Path(self.model).is_dir():
            return True, f"local transformers model {self.model}"
        return False, (
            "set CADENZA_LLM_URL (and CADENZA_LLM_MODEL) to an OpenAI-compatible chat server such as "
            "Ollama or llama.cpp's server, or CADENZA_LLM_MODEL to a local transformers model directory"
        )

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return LlmAdvanced

    def estimate_seconds(self, request: TaskRequest) -> float:
        return 30.0

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        assert isinstance(request, LyricsRequest)
        advanced = LlmAdvanced.model_validate(request.advanced)
        names = ", ".join(SECTION_NAMES[k] for k in request.structure)
        user = f"Write song lyrics in language '{request.language}' about: {request.theme}\nSections in order: {names}."
        ctx.progress(0.1, "ask")
        answer = self._ask_server(user, advanced, ctx.seed) if self.url else self._ask_local(user, advanced, ctx)
        ctx.check_cancelled()
        sections = normalise(answer, list(request.structure))
        return _output(ctx, sections, _recipe(self.name, request, ctx, model=self.model, server=self.url or None))

    def _ask_server(self, user: str, advanced: LlmAdvanced, seed: int) -> str:
        import httpx

        endpoint = self.url if self.url.endswith("/chat/completions") else f"{self.url}/v1/chat/completions"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
        body = {
            "model": self.model or "default",
            "messages": messages,
            "temperature": advanced.temperature,
            "max_tokens": advanced.max_tokens,
            "seed": seed,
        }
        try:
            response = httpx.post(endpoint, json=body, headers=headers, timeout=300)
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"cannot reach the lyrics model at {endpoint}: {exc}") from None
        if response.status_code >= 400:
            raise EngineError(f"the lyrics model answered HTTP {response.status_code}: {response.text[:300]}")
        try:
            return response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise EngineError(f"the lyrics model's answer is not a chat completion: {response.text[:300]}") from None

    def _ask_local(self, user: str, advanced: LlmAdvanced, ctx: RunContext) -> str:
        """A local causal LM; the prompt is removed by token count, never by matching its text."""
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise EngineUnavailable(f"a local lyrics model needs {exc.name}: pip install 'cadenza[neural]'") from None
        tokenizer = AutoTokenizer.from_pretrained(self.model, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(self.model, local_files_only=True)
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
        if getattr(tokenizer, "chat_template", None):
            prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
        else:
            prompt = tokenizer(f"{SYSTEM_PROMPT}\n\n{user}\n\n", return_tensors="pt").input_ids
        torch.manual_seed(ctx.seed)
        output = model.generate(
            prompt, max_new_tokens=advanced.max_tokens, do_sample=True, temperature=max(advanced.temperature, 1e-3)
        )
        return tokenizer.decode(output[0][prompt.shape[1] :], skip_special_tokens=True)
