"""LoRA adapters: stored once (content-addressed in the data dir) and applied by every neural engine.

`header` reads a safetensors header without loading a tensor, `inspect` says what an adapter is and which
engine it fits, `store` keeps the files and their records, `fit` checks an adapter against a model's own
weight headers, `choices` turns a request's `loras` into stored files, `apply` attaches them to a torch
module with PEFT for one job. Only `apply` imports torch.
"""
