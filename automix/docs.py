"""Generated reference tables (plugins, style schema, error codes), so the documentation cannot drift from the code.

``python -m automix.docs`` prints them; ``tests/test_docs.py`` checks ``docs/reference.md`` holds them verbatim.
"""
from __future__ import annotations


def plugin_table() -> str:
    from automix.plugins import REGISTRY

    lines = ["| plugin | parameter | min | max | default | scale | meaning |", "|---|---|---|---|---|---|---|"]
    for p in REGISTRY.values():
        for s in p.params:
            lines.append(f"| `{p.name}` | `{s.name}` | {s.minimum:g} | {s.maximum:g} | {s.default:g} | {s.scale} | {s.doc} |")
    return "\n".join(lines) + "\n"


def style_table() -> str:
    from automix.styles import schema_markdown

    return schema_markdown().rstrip("\n") + "\n"


def error_table() -> str:
    from automix.errors import ERROR_CODES

    lines = ["| code | meaning |", "|---|---|"]
    lines += [f"| `{code}` | {meaning} |" for code, meaning in ERROR_CODES.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    print(plugin_table())
    print(style_table())
    print(error_table())


if __name__ == "__main__":
    main()
