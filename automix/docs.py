"""Generated reference tables (plugins, style schema), so the documentation cannot drift from the code.

``python -m automix.docs`` prints them; ``tests/test_docs.py`` checks ``docs/reference.md`` holds them verbatim.
"""
from __future__ import annotations


def plugin_table() -> str:
    from plugins import REGISTRY

    lines = ["| plugin | parameter | min | max | default | scale | meaning |", "|---|---|---|---|---|---|---|"]
    for p in REGISTRY.values():
        for s in p.params:
            lines.append(f"| `{p.name}` | `{s.name}` | {s.minimum:g} | {s.maximum:g} | {s.default:g} | {s.scale} | {s.doc} |")
    return "\n".join(lines) + "\n"


def style_table() -> str:
    from automix.styles import schema_markdown

    return schema_markdown().rstrip("\n") + "\n"


def main() -> None:
    print(plugin_table())
    print(style_table())


if __name__ == "__main__":
    main()
