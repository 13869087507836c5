"""Which accelerator a neural engine runs on, in what precision, and how much memory it may use.

Order: cuda, mps, cpu; CADENZA_DEVICE overrides. Only imported by engines that already need torch.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cadenza.errors import EngineUnavailable, InputError, OutOfMemory

# Apple silicon: ops MPS lacks fall back to the CPU instead of raising. Must be set before torch loads.
os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")

DEVICES = ("cuda", "mps", "cpu")


def pick_device(preferred: str | None = None) -> str:
    """The device to run on: the one asked for (checked), else the best this machine has."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    have = {"cuda": torch.cuda.is_available(), "mps": bool(mps and mps.is_available()), "cpu": True}
    if preferred and preferred != "auto":
        kind = preferred.split(":")[0]
        if kind not in have:
            raise InputError(f"unknown device {preferred!r}; accepted: {', '.join(DEVICES)} (or auto)")
        if not have[kind]:
            raise EngineUnavailable(f"device {preferred!r} is not available on this machine (CADENZA_DEVICE)")
        return preferred
    return next(kind for kind in DEVICES if have[kind])


def dtype_for(device: str) -> Any:
    """bf16 on CUDA GPUs that support it, float32 elsewhere (MPS and CPU half precision is slower or lossy)."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def available_ram() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def free_memory(device: str) -> int:
    """Bytes free where the weights will live. MPS shares system memory (torch.mps has no mem_get_info)."""
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    return available_ram()


def weights_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.suffix in (".safetensors", ".bin", ".pt", ".th"))


class ModelCache:
    """Loaded models of one worker process, least recently used unloaded first to stay within a budget."""

    def __init__(self) -> None:
        self._models: OrderedDict[tuple[str, str], tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], size: int, budget: int | None, load: Callable[[], Any]) -> Any:
        """The model under `key` (id, device), loading it with `load` if needed; refuses what cannot fit."""
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key][0]
            device = key[1]
            limit = budget if budget is not None else int(0.8 * (free_memory(device) + self.held(device)))
            need = int(size * 1.2)  # weights plus buffers and activations of one generation
            if need > limit:
                raise OutOfMemory(
                    f"model {key[0]} needs about {need / 2**20:.0f} MB on {device} but only {limit / 2**20:.0f} MB "
                    "may be used (free memory or CADENZA_MODEL_MEMORY_MB); close other programs or pick a smaller model"
                )
            while self._models and self.held(device) + need > limit:
                self._models.popitem(last=False)
                _release(device)
            model = load()
            self._models[key] = (model, need)
            return model

    def clear(self) -> None:
        """Unload every model (a retry after running out of memory starts from free memory)."""
        with self._lock:
            devices = {device for _, device in self._models}
            self._models.clear()
        for device in devices:
            _release(device)

    def loaded(self, prefix: str) -> bool:
        return any(path.startswith(prefix) for path, _ in self._models)

    def held(self, device: str) -> int:
        return sum(size for (_, on), (_, size) in self._models.items() if on == device)


def _release(device: str) -> None:
    import gc

    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


MODELS = ModelCache()
