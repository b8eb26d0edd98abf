"""The built wheel, installed into a fresh venv, adds exactly one top-level import name: ``automix``.

Generic names (``cli``, ``plugins``, ``styles``, ``batch``) in site-packages would break, or be broken by,
any other package that uses them; everything ships inside the one package instead.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: what a fresh interpreter can import at top level, as JSON, from inside that interpreter
_TOP_LEVEL = "import json, pkgutil; print(json.dumps(sorted({m.name for m in pkgutil.iter_modules()})))"


def _top_level(python: Path) -> set[str]:
    # run from the venv's folder: ``-c`` puts the working directory on the path, and the checkout's holds automix/
    out = subprocess.run([str(python), "-c", _TOP_LEVEL], capture_output=True, text=True, check=True,
                         cwd=python.parent).stdout
    return set(json.loads(out))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # built from a copy, so the checkout gains no build/ or egg-info of the test's making
    src = tmp_path_factory.mktemp("src")
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "automix", src / "automix", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
                          capture_output=True, text=True)
    if proc.returncode != 0 and "Could not find a version" in proc.stderr:
        pytest.skip("the build backend is not installable here (no package index)")
    assert proc.returncode == 0, proc.stderr
    (built,) = out.glob("automix-*.whl")
    return built


def test_the_wheel_adds_only_the_automix_import_name(wheel, tmp_path):
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    before = _top_level(python)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)
    assert _top_level(python) - before == {"automix"}
    # the presets, the weights and the app's bundle are package data inside it
    # found without importing it: the fresh venv has none of its dependencies
    files = subprocess.run([str(python), "-c", "import importlib.util, pathlib; "
                            "p = pathlib.Path(importlib.util.find_spec('automix').origin).parent; "
                            "print(sorted(f.name for f in (p / 'styles').glob('*.yaml')), "
                            "sorted(f.suffix for f in (p / 'weights').iterdir() if f.suffix != '.py'), "
                            "sorted(f.name for f in (p / 'web').iterdir()))"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert "rock_punk.yaml" in files and "envelope.yaml" in files and ".safetensors" in files
    # and the browser app's bundle: the pages work on a machine without Node
    assert "['app.css', 'app.js', 'build.json']" in files
    # every data file of the source package is in it (a new YAML or JSON beside a module must be package data)
    source = Path(__file__).resolve().parent.parent / "automix"
    data = sorted(str(f.relative_to(source)) for f in source.rglob("*")
                  if f.is_file() and f.suffix not in (".py", ".pyc", ".nbi", ".nbc") and "__pycache__" not in f.parts)
    installed = subprocess.run([str(python), "-c", "import importlib.util, pathlib, sys; "
                                "p = pathlib.Path(importlib.util.find_spec('automix').origin).parent; "
                                "print('\\n'.join(n for n in sys.argv[1:] if not (p / n).is_file()))", *data],
                               capture_output=True, text=True, check=True, cwd=tmp_path).stdout.split()
    assert data and installed == [], f"package data missing from the wheel: {installed}"
