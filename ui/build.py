"""Build the browser app into the Python package, or check that the shipped build is current.

    python ui/build.py            npm ci (when node_modules is missing or older than the lockfile),
                                  npm run build -> automix/web/{app.js, app.css}, then stamp build.json
    python ui/build.py --check    build into a temporary folder and fail unless it equals automix/web
                                  byte for byte and the stamp matches the sources (CI)

The stamp (``automix/web/build.json``) holds the sha256 of the app's sources (:func:`source_digest`), so a
test can tell, without Node, that the shipped bundle was built from the sources in the tree.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

UI = Path(__file__).resolve().parent
WEB = UI.parent / "automix" / "web"
BUNDLE = ("app.js", "app.css")
#: what the bundle is built from (tests, fixtures and dev pages are not)
SOURCES = ("src", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json")


def source_files() -> list[Path]:
    files = []
    for name in SOURCES:
        p = UI / name
        if p.is_dir():
            files += [f for f in p.rglob("*") if f.is_file() and ".test." not in f.name]
        elif p.is_file():
            files.append(p)
    return sorted(files, key=lambda f: f.relative_to(UI).as_posix())


def source_digest() -> str:
    """sha256 over each source file's path (relative to ``ui/``) and bytes, in path order."""
    h = hashlib.sha256()
    for f in source_files():
        h.update(f.relative_to(UI).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _npm(*args: str) -> None:
    subprocess.run(["npm", *args], cwd=UI, check=True)


def _install() -> None:
    modules = UI / "node_modules" / ".package-lock.json"
    if not modules.is_file() or modules.stat().st_mtime < (UI / "package-lock.json").stat().st_mtime:
        _npm("ci", "--no-audit", "--no-fund")


def build(out: Path = WEB) -> None:
    _install()
    _npm("run", "build", "--", "--outDir", str(out), "--emptyOutDir")
    (out / "build.json").write_text(json.dumps({"source_sha256": source_digest()}, indent=1) + "\n")


def check() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "web"
        build(fresh)
        stale = [name for name in (*BUNDLE, "build.json")
                 if not (WEB / name).is_file() or (WEB / name).read_bytes() != (fresh / name).read_bytes()]
    if stale:
        print(f"ui/build.py: automix/web/{', '.join(stale)} differ from a fresh build of ui/; "
              "run python ui/build.py and commit automix/web", file=sys.stderr)
        return 1
    print("ui/build.py: automix/web is the build of the current ui/ sources")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail unless automix/web is a fresh build")
    args = parser.parse_args()
    if args.check:
        return check()
    build()
    print(f"ui/build.py: built {', '.join(BUNDLE)} into {WEB}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
