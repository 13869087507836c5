"""What every neural engine shares: its packages, its model (resolved offline), and the model cache."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from cadenza.engines.base import Artifact, EngineOutput, RunContext
from cadenza.errors import EngineUnavailable
from cadenza.loras.fit import LoraTarget
from cadenza.media.io import mime_for, write_audio
from cadenza.models.resolve import ResolvedModel, resolve
from cadenza.tasks import TaskRequest


class NeuralEngine:
    """Mixin: `name`, `packages` and `default_model` are set by the engine."""

    name: str
    version: str
    packages: tuple[str, ...] = ("torch", "transformers")
    default_model: str
    task_models: ClassVar[dict[str, str]] = {}  # tasks only some models can do (a cover needs a melody model)
    lora_families: ClassVar[tuple[str, ...]] = ()  # adapter families it applies (cadenza.loras.inspect)
    lora_weights: ClassVar[tuple[str, str]] = ("", "")  # (model subfolder, parameter prefix) of the adapted module

    def model_for(self, task: str | None, asked: str | None = None) -> str:
        """The model a run uses: the one asked for, else the task's own default, else the engine's."""
        return asked or self.task_models.get(task or "", self.default_model)

    def available(self) -> tuple[bool, str]:
        return self.available_for(None)

    def available_for(self, request: TaskRequest | None) -> tuple[bool, str]:
        """Usable when its packages are installed and the requested (or default) model is on this machine."""
        missing = [name for name in self.packages if importlib.util.find_spec(name) is None]
        if missing:
            return False, f"needs {' and '.join(missing)}: pip install torch==2.13.0 (CPU) then pip install '.[neural]'"
        model = self.model_for(request.task, request.advanced.get("model")) if request else self.default_model
        try:
            found = resolve(str(model), self.name)
        except EngineUnavailable as exc:
            return False, exc.message
        return True, f"{found.id} from {found.path}"

    def lora_target(self, request: TaskRequest) -> LoraTarget | None:
        """Where the module adapters attach to keeps its weights, for a header-only fit check (None: the
        model has no safetensors weights to check against; PEFT then checks when it attaches)."""
        resolved = resolve(str(self.model_for(request.task, request.advanced.get("model"))), self.name)
        subfolder, prefix = self.lora_weights
        files = tuple(sorted((resolved.path / subfolder).glob("*.safetensors")))
        return LoraTarget(resolved.id, files, prefix) if files else None

    def loaded(self, resolved: ResolvedModel, device: str, load: Callable[[], Any]) -> Any:
        """The model from this worker's cache, loaded once within the memory budget."""
        from cadenza.config import load_settings
        from cadenza.engines.devices import MODELS, weights_bytes

        budget = load_settings().model_memory_mb
        key = (str(resolved.path), device)
        return MODELS.get(key, weights_bytes(resolved.path), int(budget * 2**20) if budget else None, load)

    def publish(
        self,
        audio: np.ndarray,
        sample_rate: int,
        filename: str,
        request: TaskRequest,
        ctx: RunContext,
        *,
        resolved: ResolvedModel,
        device: str,
        advanced: BaseModel,
    ) -> EngineOutput:
        """Write the (frames, channels) mix into the scratch dir with a recipe naming model, revision and device."""
        from cadenza.engines.devices import dtype_for

        ctx.progress(0.97, "write")
        parameters = advanced.model_dump()
        if not parameters.get("loras"):  # a plain run's recipe stays as it was before adapters existed
            parameters.pop("loras", None)
        path = write_audio(ctx.scratch / f"{filename}.{getattr(request, 'format', 'wav')}", audio, sample_rate)
        recipe = {
            "engine": self.name,
            "engine_version": self.version,
            "task": request.task,
            "seed": ctx.seed,
            "model": {"id": resolved.id, "revision": resolved.revision, "source": resolved.source},
            "device": device,
            "dtype": str(dtype_for(device)).removeprefix("torch."),
            "request": request.model_dump(mode="json") | {"seed": ctx.seed, "advanced": parameters},
        }
        duration = len(audio) / sample_rate
        return EngineOutput([Artifact(path, "audio", "mix", mime_for(path), duration, sample_rate)], recipe)
