"""Stems with Demucs v4 (htdemucs): drums, bass, other, vocals, for audio Cadenza did not compose.

Weights are never fetched at run time. The checkpoint is looked for in CADENZA_MODELS_DIR/htdemucs/,
CADENZA_MODELS_DIR/ and the torch hub cache; when it is missing the engine is unavailable and says
which file to fetch on a connected machine. The stems always sum to the input: what the model leaves
out is added to `other`.

    CADENZA_MODELS_DIR=~/models cadenza stems take.wav --engine demucs
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from cadenza import __version__
from cadenza.engines.base import Artifact, EngineOutput, RunContext
from cadenza.engines.devices import pick_device
from cadenza.errors import EngineUnavailable
from cadenza.media.io import read_audio, write_audio
from cadenza.tasks import StemsRequest, TaskRequest

MODEL = "htdemucs"
CHECKPOINT = "955717e8-8726e21a.th"  # the single model of demucs' remote/htdemucs.yaml
FETCH = (
    f"on a connected machine run `python -c \"from demucs.pretrained import get_model; get_model('{MODEL}')\"` "
    f"and copy ~/.cache/torch/hub/checkpoints/{CHECKPOINT} into $CADENZA_MODELS_DIR/{MODEL}/"
)
CHUNK_SECONDS = 30.0  # cancellation and progress are checked between chunks


def checkpoint(models_dir: Path | None) -> Path | None:
    """The htdemucs checkpoint, from the models dir or the torch hub cache, if it is on this machine."""
    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
    candidates = [torch_home / "hub" / "checkpoints" / CHECKPOINT]
    if models_dir is not None:
        candidates[:0] = [models_dir / MODEL / CHECKPOINT, models_dir / CHECKPOINT]
    return next((path for path in candidates if path.is_file()), None)


@cache
def _load(path: Path, device: str):
    from demucs.states import load_model

    return load_model(str(path)).to(device).eval()


class DemucsEngine:
    name = "demucs"
    version = __version__
    tasks = ("stems",)

    def __init__(self) -> None:
        models_dir = os.environ.get("CADENZA_MODELS_DIR")
        self.models_dir = Path(models_dir) if models_dir else None

    def available(self) -> tuple[bool, str]:
        missing = [name for name in ("torch", "demucs") if importlib.util.find_spec(name) is None]
        if missing:
            return False, f"needs {' and '.join(missing)}: pip install torch==2.13.0 (CPU) then pip install '.[neural]'"
        if checkpoint(self.models_dir) is None:
            return False, f"the {MODEL} weights ({CHECKPOINT}) are not on this machine; {FETCH}"
        return True, f"{MODEL} from {checkpoint(self.models_dir)}"

    def advanced_model(self, task: str) -> type[BaseModel] | None:
        return None

    def estimate_seconds(self, request: TaskRequest) -> float:
        return 60.0

    def run(self, request: TaskRequest, ctx: RunContext) -> EngineOutput:
        """Separate in chunks (checking cancellation between them), fold the residual into `other`."""
        assert isinstance(request, StemsRequest)
        import torch
        from demucs.apply import apply_model
        from scipy.signal import resample_poly

        path = checkpoint(self.models_dir)
        if path is None:
            raise EngineUnavailable(f"the {MODEL} weights ({CHECKPOINT}) are missing; {FETCH}")
        device = pick_device(ctx.device)
        model = _load(path, device)
        ctx.progress(0.05, "read")
        audio, rate = read_audio(ctx.source().path)
        if rate != model.samplerate:
            audio = resample_poly(audio, model.samplerate, rate, axis=0).astype(np.float32)
            rate = model.samplerate
        stereo = np.repeat(audio, 2, axis=1) if audio.shape[1] == 1 else audio[:, :2]
        chunk = int(CHUNK_SECONDS * rate)
        parts = np.zeros((len(model.sources), len(stereo), 2), np.float32)
        for start in range(0, len(stereo), chunk):
            ctx.check_cancelled()
            piece = torch.from_numpy(np.ascontiguousarray(stereo[start : start + chunk].T))[None]
            with torch.no_grad():
                separated = apply_model(model, piece, device=device, split=True, overlap=0.25, progress=False)
            parts[:, start : start + chunk] = separated[0].cpu().numpy().transpose(0, 2, 1)
            ctx.progress(0.1 + 0.8 * min(1.0, (start + chunk) / len(stereo)), "separate")
        other = list(model.sources).index("other") if "other" in model.sources else len(model.sources) - 1
        parts[other] += stereo - parts.sum(axis=0)
        artifacts = []
        for name, part in zip(model.sources, parts, strict=True):
            target = write_audio(ctx.scratch / f"{name}.wav", part, rate, subtype="FLOAT")
            artifacts.append(Artifact(target, "stem", f"stem:{name}", "audio/wav", len(part) / rate, rate))
        recipe = {
            "engine": self.name,
            "engine_version": self.version,
            "task": "stems",
            "seed": ctx.seed,
            "model": MODEL,
            "checkpoint": path.name,
            "sources": list(model.sources),
            "request": request.model_dump(mode="json"),
        }
        return EngineOutput(artifacts, recipe)
