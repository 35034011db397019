"""Heading- and sentence-aware chunking with a token bound and overlap."""

from __future__ import annotations

from retrieval.chunking import chunk_markdown

BODY = (
    "Intro sentence one. Intro sentence two!\n\n"
    "## Breathing\n\n"
    "Breathe in for four. Hold for four. Breathe out for six. Rest for a moment.\n\n"
    "- Try it twice a day\n- Notice the out-breath\n\n"
    "## Sleep\n\n"
    "Keep a regular wake time. Get up if you cannot sleep.\n"
)


def words(text: str) -> int:
    return len(text.split())


def test_every_chunk_is_an_exact_slice_of_the_body():
    for chunk in chunk_markdown(BODY, max_tokens=8, overlap_tokens=3, count_tokens=words):
        assert BODY[chunk.start:chunk.end] == chunk.text


def test_chunks_never_cross_a_heading():
    chunks = chunk_markdown(BODY, max_tokens=100, overlap_tokens=10, count_tokens=words)
    assert [c.heading for c in chunks] == ["", "Breathing", "Sleep"]
    assert "## " not in "".join(c.text for c in chunks)


def test_chunks_stay_within_the_token_bound_and_end_on_sentences():
    chunks = chunk_markdown(BODY, max_tokens=8, overlap_tokens=3, count_tokens=words)
    for chunk in chunks:
        assert words(chunk.text) <= 8
        assert BODY[chunk.end:chunk.end + 1] in ("", " ", "\n")  # no word is cut
        assert BODY[chunk.start - 1:chunk.start] in ("", " ", "\n")


def test_neighbouring_chunks_overlap():
    chunks = [c for c in chunk_markdown(BODY, max_tokens=9, overlap_tokens=5,
                                        count_tokens=words) if c.heading == "Breathing"]
    assert len(chunks) >= 2
    assert chunks[1].start < chunks[0].end  # the second repeats the first's last sentence


def test_a_single_overlong_sentence_is_kept_whole():
    body = "## One\n\n" + "word " * 50 + "end."
    (chunk,) = chunk_markdown(body, max_tokens=10, overlap_tokens=2, count_tokens=words)
    assert chunk.text.endswith("end.")


def test_the_real_tokenizer_bounds_real_articles():
    from retrieval.chunking import default_token_counter
    from retrieval.markdown_files import parse_article
    from tests.factories import ROOT

    count = default_token_counter()
    article = parse_article(ROOT / "fixtures" / "articles" / "sleep-difficulties.md")
    chunks = chunk_markdown(article.body, max_tokens=160, overlap_tokens=32)
    assert len(chunks) > 3
    assert all(count(c.text) <= 160 for c in chunks if c.text.count(".") > 1)
