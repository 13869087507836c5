"""Import typer's help renderer without the two rich modules it imports and Cadenza never uses.

`typer.rich_utils` imports `rich.markdown` (markdown-it, pygments) and `rich.traceback` (attrs) at its
top: about half of `cadenza --help`. Cadenza's "rich" markup mode never renders Markdown and its pretty
exceptions are off, so while typer's module loads those names are stand-ins that import the real class
on first use. The stand-in modules leave `sys.modules` at once: any later `import rich.markdown` is real.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

DEFERRED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


class _Deferred(type):
    """A class standing for one that is imported when it is first called, read or checked against."""

    _module: str

    def _real(cls) -> type:
        return getattr(importlib.import_module(cls._module), cls.__name__)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls._real(), name)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls._real())


def import_typer_help() -> None:
    """Import `typer.rich_utils` with `rich.markdown` and `rich.traceback` deferred."""
    if "typer.rich_utils" in sys.modules:
        return
    stand_ins = {}
    for module_name, class_name in DEFERRED.items():
        if module_name not in sys.modules:
            module = types.ModuleType(module_name)
            setattr(module, class_name, _Deferred(class_name, (), {"_module": module_name}))
            stand_ins[module_name] = sys.modules[module_name] = module
    try:
        import typer.rich_utils  # noqa: F401
    finally:
        for module_name, module in stand_ins.items():
            if sys.modules.get(module_name) is module:
                del sys.modules[module_name]
