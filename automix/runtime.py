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

Freed memory kept: glibc maps every allocation above a threshold afresh and returns the top of its heap to the
kernel once more than a threshold is free; a mix allocates and frees blocks of 0.5 to 30 MB all the time
(blocks, spectra frames, strips), so each came back as fresh pages to fault in. :func:`reuse_freed_memory`
raises both thresholds (:data:`MMAP_THRESHOLD_BYTES`, :data:`TRIM_THRESHOLD_BYTES`): the kernel time of a
10-minute mix on one thread fell from 7.8 s to 5.9 s (3 minutes on two threads: 1.9 s to 1.2 s), at the same
peak (295 MB); the wall time gained 0 to 5 %, within these hosts' noise. Kept memory is kept per arena, and
glibc gives each thread that allocates an arena of its own (up to eight per core): a mix's threads (analysis,
strips, a pass's three stages, the meters' helper) then each held on to their own, and a 10-minute mix on two
threads peaked at 342 MB. :data:`ARENAS` arenas shared by every thread bring it to 299 MB in the same time.
Skipped when ``GLIBC_TUNABLES`` or ``MALLOC_MMAP_THRESHOLD_`` is set (the user chose) and on any other C library;
``MALLOC_ARENA_MAX`` set by the user wins.

:func:`configure` does all three; the CLI, batch workers and the benches call it. Library users
(``automix.api``) keep numpy's and the C library's defaults.
"""
from __future__ import annotations

import os
import sys

ENV = "NUMPY_MADVISE_HUGEPAGE"
BLAS_ENV = "OPENBLAS_NUM_THREADS"
#: allocations up to this size come from the heap and are reused (glibc's largest allowed value on 64-bit)
MMAP_THRESHOLD_BYTES = 32 << 20
#: free memory at the top of a heap kept, up to this much, rather than handed back to the kernel
TRIM_THRESHOLD_BYTES = 512 << 20
#: malloc arenas the process's threads share (glibc's default is eight per core)
ARENAS = 2


def configure() -> None:
    """The process settings automix's own processes run with (see the module docstring)."""
    prefer_small_pages()
    single_thread_blas()
    reuse_freed_memory()


def reuse_freed_memory() -> bool:
    """Have glibc's malloc reuse freed memory instead of mapping fresh pages (see the module docstring); whether
    it was applied."""
    if not sys.platform.startswith("linux") or "GLIBC_TUNABLES" in os.environ or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # another C library
        return False
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8  # malloc.h
    return (bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD_BYTES))
            and bool(mallopt(m_trim_threshold, TRIM_THRESHOLD_BYTES))
            and ("MALLOC_ARENA_MAX" in os.environ or bool(mallopt(m_arena_max, ARENAS))))


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
