"""Write a benchmark's table between a pair of HTML-comment markers in a Markdown file.

Several benchmarks keep their latest table in the docs (`bench/quality.py` in
docs/evaluation.md, `bench/similarity.py` in bench/README.md); the text around the markers is the
people's, and only what lies between them is regenerated.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def write_between_markers(path: Path, text: str, markers: tuple[str, str]) -> bool:
    """Replace what lies between `markers` in `path` by `text`; say so and return False where they are missing."""
    content = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(markers[0]) + ".*?" + re.escape(markers[1]), re.DOTALL)
    if not pattern.search(content):
        print(f"{path.name} has no {markers[0]} markers; table not written", file=sys.stderr)
        return False
    # A function, so that backslashes in the text are not read as group references.
    path.write_text(pattern.sub(lambda _: f"{markers[0]}\n{text}\n{markers[1]}", content), encoding="utf-8")
    return True
