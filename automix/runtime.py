"""Process-wide settings for automix's own processes (the CLI, batch workers, the studio's server).

Transparent huge pages: numpy asks the kernel for huge pages on every large array (``madvise``), and on a
kernel whose THP ``defrag`` setting is ``madvise`` each such allocation may compact memory first. On our
machines that made the first touch of a fresh 64 MB array (a 3-minute stereo strip) cost 200-400 ms
instead of 15 ms, and a studio edit, which allocates a few of them, 1 s slower (strips and bus 1.2 s ->
0.33 s, measured in ``bench/bench_studio.py``). numpy documents ``NUMPY_MADVISE_HUGEPAGE=0`` as the switch;
:func:`prefer_small_pages` sets it (for child processes too) unless the user chose a value, and applies it
to a numpy already imported.

BLAS threads: numpy's OpenBLAS starts a worker per core and leaves it spinning after every matrix
product, even the meters' small ones (band sums of a spectrum). Those spinning workers took the second
core from the render's own threads: a master pass that overlaps its meters with the limiter on two
threads ran in 2.0 s instead of 1.1 s. The meters' products gain nothing from BLAS threads, so
:func:`single_thread_blas` keeps OpenBLAS to one (torch's own thread pools are not touched).

:func:`configure` does both; the CLI, batch workers and the benches call it. Library users
(``automix.api``) keep numpy's defaults.
"""
from __future__ import annotations

import os
import sys

ENV = "NUMPY_MADVISE_HUGEPAGE"
BLAS_ENV = "OPENBLAS_NUM_THREADS"


def configure() -> None:
    """The process settings automix's own processes run with (see the module docstring)."""
    prefer_small_pages()
    single_thread_blas()


def single_thread_blas() -> None:
    """Keep numpy's OpenBLAS to one thread in this process and the ones it starts, unless ``OPENBLAS_NUM_THREADS``
    says otherwise."""
    os.environ.setdefault(BLAS_ENV, "1")
    if os.environ[BLAS_ENV] != "1" or "numpy" not in sys.modules:
        return  # OpenBLAS reads the variable when numpy loads it
    from threadpoolctl import ThreadpoolController

    ThreadpoolController().select(internal_api="openblas").limit(limits=1)


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
