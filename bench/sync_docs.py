"""Copy the latest bench tables into the write-ups that quote them.

Run: ``python bench/sync_docs.py [--check]``. The results in ``bench/results/*.md`` are the source; a write-up
in ``docs/`` quotes a results file by including it whole (its tables and the notes under them), followed by a
blank line. Each quote is found by the file's first line (its first table's header row) and spans as many
paragraphs as the file holds; it is replaced with the file as it stands now, so a bench re-run updates every
quote of it (a bench that changes how many paragraphs it writes needs its quotes fixed by hand once). ``--check`` only reports stale quotes (exit 1 if any).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS = sorted((ROOT / "docs").glob("*.md"))


def _paragraphs(lines: list[str]) -> int:
    """How many blank-line-separated paragraphs ``lines`` holds."""
    count, inside = 0, False
    for line in lines:
        if line.strip() and not inside:
            count += 1
        inside = bool(line.strip())
    return count


def _block_end(lines: list[str], start: int, paragraphs: int) -> int:
    """Index past the quote starting at ``start``: as many paragraphs as the results file holds (a table, its
    notes, further tables), the blank lines between them included and the one after the last left out."""
    i, seen = start, 0
    while i < len(lines):
        if lines[i].strip() and (i == start or not lines[i - 1].strip()):
            seen += 1
            if seen > paragraphs:
                break
        i += 1
    while i > start and not lines[i - 1].strip():
        i -= 1
    return i


def sync(text: str, tables: dict[str, list[str]]) -> tuple[str, list[str]]:
    """``text`` with every quoted table replaced by its results file's lines; and the names replaced."""
    lines = text.split("\n")
    changed = []
    i = 0
    while i < len(lines):
        source = next((name for name, new in tables.items() if new and lines[i] == new[0]), None)
        if source is None:
            i += 1
            continue
        end = _block_end(lines, i, _paragraphs(tables[source]))
        if lines[i:end] != tables[source]:
            lines[i:end] = tables[source]
            changed.append(source)
        i += len(tables[source])
    return "\n".join(lines), changed


def load_tables() -> dict[str, list[str]]:
    """Each results file's lines, by file name; files whose header row another file shares are left out (a quote
    of either could not be told apart)."""
    tables = {p.name: p.read_text().strip("\n").split("\n") for p in sorted(RESULTS.glob("*.md"))}
    headers = [t[0] for t in tables.values()]
    return {k: v for k, v in tables.items() if headers.count(v[0]) == 1}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="report stale quotes only (exit 1 if any)")
    args = ap.parse_args()
    tables = load_tables()
    stale = False
    for doc in DOCS:
        text, changed = sync(doc.read_text(), tables)
        for name in changed:
            print(f"{doc.relative_to(ROOT)}: {name} {'is stale' if args.check else 'updated'}")
        if changed and not args.check:
            doc.write_text(text)
        stale = stale or bool(changed)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
