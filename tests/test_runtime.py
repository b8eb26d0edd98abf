"""automix's processes stop numpy asking for transparent huge pages, unless the user says otherwise."""
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
