"""Keeping freed memory for reuse.

A three-minute stereo song is 64 MB per float32 buffer, and mixing allocates and frees many such
buffers. glibc returns every allocation over 32 MB to the kernel when it is freed, so the next one is
page-faulted in afresh, which on virtual machines costs more than the arithmetic (measured here: a
180 s song spent 7 s of 14 in the kernel). Raising glibc's mmap and trim thresholds keeps those pages
in the process for the next buffer. Other C libraries are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP_BYTES = 1 << 30


@cache
def keep_freed_memory() -> bool:
    """Ask glibc (once per process) to reuse freed large buffers; False where it is not glibc."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))
