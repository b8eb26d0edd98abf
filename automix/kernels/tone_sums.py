"""The tone match's per-frame sums and their transposes (numba), at the speed of one read of the frames.

:mod:`automix.tonal` evaluates, for EQ gains ``w`` ``(G,)`` at the frequency groups, each analysis frame's
``F_t . w`` and its three band sums of ``M_t w`` (the groups are in frequency order, so each band is a run
of groups), and for the gradient the sums over frames of ``F_tg u_t`` and ``M_tg v_tk``. As BLAS products of a
``(T, 2G)`` matrix with four or five columns, single-threaded OpenBLAS spends 3-4 ms on a 3-minute bus
(about 19 MB of frames that a plain read gets through in 0.6 ms); these loops stream each frame's row once,
computing only the products needed (one per element, not one per column).

Both run in a fixed order (the reductions vectorised by the compiler), so a session's EQ does not depend on
how many BLAS threads the process was given.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba

__all__ = ["frame_sums", "frame_backsums", "frame_sums_halved"]

#: frames below which the sums are not worth a second thread
_SPLIT_FROM = 1024
_helper: ThreadPoolExecutor | None = None


@numba.njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def frame_sums(fsum, msum, w, band_starts, out):  # pragma: no cover - compiled
    """``out[t] = [F_t . w, sum_{g in band 0} M_tg w_g, band 1, band 2]``.

    Shapes: fsum, msum ``(T, G)`` float64; w ``(G,)``; band_starts ``(4,)`` int64 (the first group of each band
    and ``G``); out ``(T, 4)`` float64.
    """
    n_frames, n_groups = fsum.shape
    for t in range(n_frames):
        f = fsum[t]
        m = msum[t]
        acc = 0.0
        for g in range(n_groups):
            acc += f[g] * w[g]
        out[t, 0] = acc
        for j in range(3):
            acc = 0.0
            for g in range(band_starts[j], band_starts[j + 1]):
                acc += m[g] * w[g]
            out[t, 1 + j] = acc


@numba.njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def frame_backsums(fsum, msum, u, v, out_f, out_m):  # pragma: no cover - compiled
    """``out_f[g] = sum_t F_tg u_t`` and ``out_m[k, g] = sum_t M_tg v_tk``.

    Shapes: fsum, msum ``(T, G)`` float64; u ``(T,)``; v ``(T, K)``; out_f ``(G,)``, out_m ``(K, G)``, zeroed here.
    """
    n_frames, n_groups = fsum.shape
    out_f[:] = 0.0
    out_m[:] = 0.0
    for t in range(n_frames):
        f = fsum[t]
        m = msum[t]
        ut = u[t]
        for g in range(n_groups):
            out_f[g] += f[g] * ut
        for k in range(v.shape[1]):
            vk = v[t, k]
            row = out_m[k]
            for g in range(n_groups):
                row[g] += m[g] * vk


def frame_sums_halved(fsum, msum, w, band_starts, out, threads: int = 1) -> None:
    """:func:`frame_sums`, the frames in two halves on two threads when ``threads > 1``: each frame's sums are
    computed alone, so the numbers are the same either way."""
    global _helper
    n = fsum.shape[0]
    if threads < 2 or n < _SPLIT_FROM:
        frame_sums(fsum, msum, w, band_starts, out)
        return
    if _helper is None:
        _helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="automix-tone")
    half = n // 2
    beside = _helper.submit(frame_sums, fsum[half:], msum[half:], w, band_starts, out[half:])
    frame_sums(fsum[:half], msum[:half], w, band_starts, out[:half])
    beside.result()
