"""Process-wide settings for automix's own processes (the CLI, batch workers, the studio's server).

Transparent huge pages: numpy asks the kernel for huge pages on every large array (``madvise``), and on a
kernel whose THP ``defrag`` setting is ``madvise`` each such allocation may compact memory first. On our
machines that made the first touch of a fresh 64 MB array (a 3-minute stereo strip) cost 200-400 ms
instead of 15 ms, and a studio edit, which allocates a few of them, 1 s slower (strips and bus 1.2 s ->
0.33 s, measured in ``bench/bench_studio.py``). numpy documents ``NUMPY_MADVISE_HUGEPAGE=0`` as the switch;
:func:`prefer_small_pages` sets it (for child processes too) unless the user chose a value, and applies it
to a numpy already imported. Library users (``automix.api``) keep numpy's default.
"""
from __future__ import annotations

import os
import sys

ENV = "NUMPY_MADVISE_HUGEPAGE"


def prefer_small_pages() -> None:
    """Stop numpy asking for transparent huge pages in this process and the ones it starts, unless
    ``NUMPY_MADVISE_HUGEPAGE`` says otherwise."""
    os.environ.setdefault(ENV, "0")
    if os.environ[ENV] != "0" or "numpy" not in sys.modules:
        return  # numpy reads the variable when it is imported
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # numpy < 2
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return
    _set_madvise_hugepage(False)
