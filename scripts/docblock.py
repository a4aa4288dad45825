"""Replace a generated block of README.md, between `<!-- NAME:start -->` and `<!-- NAME:end -->`.

The README's measured tables are written by the scripts that measure them, never typed by hand.
"""
from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def replace_block(name: str, text: str, path: Path = README) -> bool:
    """Put `text` between the markers of block `name`; False (and nothing written) if they are missing."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    doc = path.read_text()
    i, j = doc.find(start), doc.find(end)
    if i < 0 or j < i:
        return False
    path.write_text(doc[:i + len(start)] + "\n" + text.rstrip() + "\n" + doc[j:])
    return True
