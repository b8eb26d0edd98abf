"""bench/sync_docs.py: a write-up's quote of a bench table follows the results file, and nothing else moves."""
from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("sync_docs", Path(__file__).parent.parent / "bench" / "sync_docs.py")
sync_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync_docs)


def test_a_quoted_table_and_its_notes_are_replaced_and_the_prose_around_them_kept():
    doc = "\n".join(["# Results", "", "Speed (intro):", "", "| a | b |", "|---|---|", "| 1 | 2 |", "", "old note",
                     "", "**Next** section", "| c | d |", "|---|---|", "| 9 | 9 |", ""])
    fresh = ["| a | b |", "|---|---|", "| 1 | 3 |", "| 4 | 5 |", "", "new note, longer"]
    out, changed = sync_docs.sync(doc, {"speed.md": fresh})
    assert changed == ["speed.md"]
    assert out.split("\n") == ["# Results", "", "Speed (intro):", "", *fresh, "", "**Next** section",
                               "| c | d |", "|---|---|", "| 9 | 9 |", ""]
    again, changed = sync_docs.sync(out, {"speed.md": fresh})
    assert again == out and changed == []  # up to date: untouched


def test_the_shipped_write_ups_quote_the_latest_tables():
    """Every table docs/ quotes is the one in bench/results (run ``python bench/sync_docs.py`` after a bench)."""
    tables = sync_docs.load_tables()
    assert {"speed.md", "studio.md"} <= set(tables)
    for doc in sync_docs.DOCS:
        assert sync_docs.sync(doc.read_text(), tables)[1] == [], doc.name


def test_a_results_file_of_several_tables_replaces_its_whole_quote():
    """A bench that writes several tables (delivery: specs, album, reference) is quoted whole; the quote ends
    where the file's last paragraph ends, not at the first table's notes."""
    old = ["| s | t |", "|---|---|", "| x | 1 |", "", "note 1", "", "| album |", "|---|", "| 0.02 |", "", "| ref |",
           "|---|", "| 2.4 |", "", "note 3"]
    doc = "\n".join(["intro", "", *old, "", "After the quote, prose stays.", ""])
    fresh = ["| s | t |", "|---|---|", "| x | 2 |", "", "note 1", "", "| album |", "|---|", "| 0.03 |", "", "| ref |",
             "|---|", "| 1.9 |", "", "note 3, new"]
    out, changed = sync_docs.sync(doc, {"delivery.md": fresh})
    assert changed == ["delivery.md"]
    assert out.split("\n") == ["intro", "", *fresh, "", "After the quote, prose stays.", ""]
