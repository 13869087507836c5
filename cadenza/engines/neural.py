"""What every neural engine shares: its packages, its model (resolved offline), and the model cache."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from cadenza.errors import EngineUnavailable
from cadenza.models.resolve import ResolvedModel, resolve
from cadenza.tasks import TaskRequest


class NeuralEngine:
    """Mixin: `name`, `packages` and `default_model` are set by the engine."""

    name: str
    packages: tuple[str, ...] = ("torch", "transformers")
    default_model: str

    def available(self) -> tuple[bool, str]:
        return self.available_for(None)

    def available_for(self, request: TaskRequest | None) -> tuple[bool, str]:
        """Usable when its packages are installed and the requested (or default) model is on this machine."""
        missing = [name for name in self.packages if importlib.util.find_spec(name) is None]
        if missing:
            return False, f"needs {' and '.join(missing)}: pip install torch==2.13.0 (CPU) then pip install '.[neural]'"
        model = (request.advanced.get("model") if request is not None else None) or self.default_model
        try:
            found = resolve(str(model), self.name)
        except EngineUnavailable as exc:
            return False, exc.message
        return True, f"{found.id} from {found.path}"

    def loaded(self, resolved: ResolvedModel, device: str, load: Callable[[], Any]) -> Any:
        """The model from this worker's cache, loaded once within the memory budget."""
        from cadenza.config import load_settings
        from cadenza.engines.devices import MODELS, weights_bytes

        budget = load_settings().model_memory_mb
        key = (str(resolved.path), device)
        return MODELS.get(key, weights_bytes(resolved.path), int(budget * 2**20) if budget else None, load)
