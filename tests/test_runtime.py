"""automix's processes: small pages for numpy, one BLAS thread, unless the user says otherwise."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import numpy
from automix.runtime import prefer_small_pages
prefer_small_pages()
from numpy._core.multiarray import _get_madvise_hugepage
import os
print(_get_madvise_hugepage(), os.environ.get("NUMPY_MADVISE_HUGEPAGE"))
"""


@pytest.mark.parametrize("given, expected", [(None, "False 0"), ("1", "True 1"), ("0", "False 0")])
def test_prefer_small_pages_after_numpy_is_imported(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if given is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = given
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == expected.split()


def test_the_command_line_sets_it_for_the_processes_it_starts():
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    code = ("import os, sys\nfrom automix.cli import main\nsys.argv = ['automix', 'styles', '--json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint(os.environ.get('NUMPY_MADVISE_HUGEPAGE'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0"


BLAS_PROBE = """
import numpy
numpy.ones((64, 64)) @ numpy.ones((64, 64))  # OpenBLAS is loaded and has started its pool
from automix.runtime import single_thread_blas
single_thread_blas()
from threadpoolctl import threadpool_info
import os
print([i["num_threads"] for i in threadpool_info() if i["internal_api"] == "openblas"], os.environ.get("OPENBLAS_NUM_THREADS"))
"""


@pytest.mark.parametrize("given, expected", [(None, "[1] 1"), ("2", "[2] 2")])
def test_one_blas_thread_after_numpy_is_imported_unless_the_user_says_otherwise(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    out = subprocess.run([sys.executable, "-c", BLAS_PROBE], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == expected.split()


def test_the_command_line_keeps_blas_to_one_thread_for_the_processes_it_starts():
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    code = ("import os, sys\nfrom automix.cli import main\nsys.argv = ['automix', 'styles', '--json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint(os.environ.get('OPENBLAS_NUM_THREADS'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == "1"
