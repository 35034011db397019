"""Heading- and sentence-aware chunking with a token bound, overlap and offsets.

A chunk never crosses a heading, never splits a sentence (unless one sentence alone is
longer than the bound), stays within `max_tokens` of the embedder's tokenizer, and
repeats up to `overlap_tokens` of trailing sentences from the chunk before it. Each
chunk's text is exactly `body[start:end]`, so the console can show it in context.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_HEADING = re.compile(r"^#{1,6}[ \t]+(.*?)[ \t#]*$", re.MULTILINE)
# A sentence ends at . ! or ? (optionally followed by quotes or brackets), or at a
# paragraph or list-item break.
_SENTENCE = re.compile(r"[^\s].*?(?:[.!?][\"')\]]*(?=\s)|(?=\n\s*\n)|(?=\n[-*\d])|$)",
                       re.DOTALL)

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class TextChunk:
    heading: str
    text: str
    start: int
    end: int


def default_token_counter() -> TokenCounter:
    from retrieval.embeddings import get_embedder

    tokenizer = get_embedder().tokenizer

    def count(text: str) -> int:
        return len(tokenizer.tokenize(text))

    return count


def _sections(body: str) -> list[tuple[str, int, int]]:
    headings = list(_HEADING.finditer(body))
    sections = []
    first = headings[0].start() if headings else len(body)
    if first > 0:
        sections.append(("", 0, first))
    for i, h in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(body)
        sections.append((h.group(1).strip(), h.end(), end))
    return sections


def _sentences(body: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    for m in _SENTENCE.finditer(body, start, end):
        text = m.group()
        stripped = text.rstrip()
        if stripped:
            spans.append((m.start(), m.start() + len(stripped)))
    return spans


def chunk_markdown(body: str, *, max_tokens: int = 160, overlap_tokens: int = 32,
                   count_tokens: TokenCounter | None = None) -> list[TextChunk]:
    if overlap_tokens >= max_tokens:
        raise ValueError("overlap_tokens must be smaller than max_tokens")
    count = count_tokens or default_token_counter()
    chunks: list[TextChunk] = []
    for heading, sec_start, sec_end in _sections(body):
        sentences = [(s, e, count(body[s:e])) for s, e in _sentences(body, sec_start, sec_end)]
        i = 0
        while i < len(sentences):
            j, tokens = i, 0
            while j < len(sentences) and (j == i or tokens + sentences[j][2] <= max_tokens):
                tokens += sentences[j][2]
                j += 1
            start, end = sentences[i][0], sentences[j - 1][1]
            chunks.append(TextChunk(heading, body[start:end], start, end))
            if j >= len(sentences):
                break
            # Step back over trailing sentences that fit in the overlap, but always
            # move forward by at least one sentence.
            back, overlap = j, 0
            while back - 1 > i and overlap + sentences[back - 1][2] <= overlap_tokens:
                back -= 1
                overlap += sentences[back][2]
            i = back
    return chunks
