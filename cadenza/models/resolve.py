"""Finding a model's weights on this machine, never on the network.

Order: an explicit directory, then CADENZA_MODELS_DIR/<id>, then the Hugging Face cache read with
HF_HUB_OFFLINE semantics. A missing model is an `unavailable` error naming the command that fetches it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from cadenza.errors import EngineUnavailable, InputError
from cadenza.models.catalog import CATALOG, ModelSpec


@dataclass(frozen=True)
class ResolvedModel:
    id: str
    path: Path
    revision: str  # the HF snapshot hash, or a hash of a local directory's config
    source: str  # path, models-dir or hf-cache
    looked: list[str] = field(default_factory=list)


def fetch_command(spec: ModelSpec) -> str:
    return f"hf download {spec.repo_id} --local-dir $CADENZA_MODELS_DIR/{spec.id}"


CONFIG_FILES = ("config.json", "model_index.json")  # a transformers model, or a diffusers pipeline


def config_file(folder: Path) -> Path | None:
    return next((folder / name for name in CONFIG_FILES if (folder / name).is_file()), None)


def _local_revision(folder: Path) -> str:
    config = config_file(folder)
    digest = hashlib.sha256(config.read_bytes()).hexdigest()[:12] if config else "unknown"
    return f"local-{digest}"


def _hf_cache_snapshot(repo_id: str) -> Path | None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # LocalEntryNotFoundError and friends: not cached
        return None


def models_dir() -> Path | None:
    configured = os.environ.get("CADENZA_MODELS_DIR")
    return Path(configured).expanduser() if configured else None


def resolve(model: str, engine: str | None = None) -> ResolvedModel:
    """A model id from the catalog or a directory holding a saved model."""
    explicit = Path(model).expanduser()
    if explicit.is_dir():
        if config_file(explicit) is None:
            raise InputError(
                f"{explicit} has no config.json or model_index.json; "
                "point --model at a folder saved with save_pretrained"
            )
        return ResolvedModel(explicit.name, explicit, _local_revision(explicit), "path", [str(explicit)])
    spec = CATALOG.get(model)
    if spec is None or (engine is not None and spec.engine != engine):
        known = [s.id for s in CATALOG.values() if engine is None or s.engine == engine]
        raise InputError(f"unknown model {model!r}; accepted: {', '.join(known)}, or a local model directory")
    looked = []
    base = models_dir()
    if base is not None:
        candidate = base / spec.id
        looked.append(str(candidate))
        if config_file(candidate) is not None:
            return ResolvedModel(spec.id, candidate, _local_revision(candidate), "models-dir", looked)
    looked.append(f"Hugging Face cache ({spec.repo_id})")
    snapshot = _hf_cache_snapshot(spec.repo_id)
    if snapshot is not None and config_file(snapshot) is not None:
        return ResolvedModel(spec.id, snapshot, snapshot.name, "hf-cache", looked)
    raise EngineUnavailable(
        f"model {spec.id} is not on this machine (looked in {'; '.join(looked)}); "
        f"on a connected machine run `{fetch_command(spec)}` and copy the folder here"
    )
