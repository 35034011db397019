"""Heading-aware chunking that keeps each chunk's character offsets in its article."""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADING = re.compile(r"^#{1,6}\s+(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class TextChunk:
    heading: str
    text: str
    start: int
    end: int


def chunk_markdown(body: str, max_chars: int = 900) -> list[TextChunk]:
    """Splits on headings, then packs paragraphs into chunks of at most `max_chars`."""
    sections: list[tuple[str, int, int]] = []
    headings = list(_HEADING.finditer(body))
    if not headings or headings[0].start() > 0:
        sections.append(("", 0, headings[0].start() if headings else len(body)))
    for i, h in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(body)
        sections.append((h.group(1).strip(), h.end(), end))

    chunks: list[TextChunk] = []
    for heading, start, end in sections:
        paragraphs = [(m.start() + start, m.end() + start)
                      for m in re.finditer(r"\S(?:.|\n(?!\s*\n))*", body[start:end])]
        current: tuple[int, int] | None = None
        for p_start, p_end in paragraphs:
            if current and p_end - current[0] > max_chars:
                chunks.append(TextChunk(heading, body[current[0]:current[1]], *current))
                current = None
            current = (current[0], p_end) if current else (p_start, p_end)
        if current:
            chunks.append(TextChunk(heading, body[current[0]:current[1]], *current))
    return chunks
