"""The crawler against a real local HTTP server: the corpus site plus broken pages."""

from __future__ import annotations

import contextlib
import itertools
import shutil
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from retrieval.crawler import CrawlConfig, Crawler, load_sources
from retrieval.models import Article, CrawledPage
from retrieval.site import build_site
from tests.factories import ROOT

pytestmark = pytest.mark.django_db

ARTICLES = ["sleep-difficulties", "grief-and-loss", "loneliness", "anxiety-and-panic"]
State = CrawledPage.State


class Handler(SimpleHTTPRequestHandler):
    requests: list[tuple[float, str]]

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.requests.append((time.monotonic(), self.path))
        special = {
            "/broken.html": self._broken, "/slow.html": self._slow,
            "/report.pdf": self._pdf, "/huge.html": self._huge, "/moved.html": self._moved,
            "/garbage.html": self._garbage, "/etag.html": self._etag,
        }.get(self.path)
        if special:
            special()
        else:
            super().do_GET()

    def _send(self, status: int, body: bytes, kind: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError):  # the crawler gave up waiting
            self.wfile.write(body)

    def _broken(self) -> None:
        self._send(500, b"<html><body>Internal error</body></html>")

    def _slow(self) -> None:
        time.sleep(2)
        self._send(200, b"<html><body>too late</body></html>")

    def _pdf(self) -> None:
        self._send(200, b"%PDF-1.4 not html", kind="application/pdf")

    def _huge(self) -> None:
        self._send(200, b"<html><body><p>" + b"word " * 400_000 + b"</p></body></html>")

    def _moved(self) -> None:
        self.send_response(301)
        self.send_header("Location", "/articles/grief-and-loss.html")
        self.end_headers()

    def _garbage(self) -> None:
        self._send(200, b"<html><<<>>><\xff\xfe\x00 <body <p>>>")

    def _etag(self) -> None:
        if self.headers.get("If-None-Match") == '"v1"':
            self._send(304, b"", headers={"ETag": '"v1"'})
            return
        page = (Path(self.directory) / "etag-source.html").read_bytes()
        self._send(200, page, headers={"ETag": '"v1"'})


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, list[tuple[float, str]]]]:
    articles = tmp_path / "articles"
    articles.mkdir()
    for slug in ARTICLES:
        shutil.copy(ROOT / "fixtures" / "articles" / f"{slug}.md", articles)
    root = tmp_path / "site"
    build_site(articles, root)
    sleep_page = (root / "articles" / "sleep-difficulties.html").read_text()
    (root / "copy.html").write_text(sleep_page)
    (root / "near-copy.html").write_text(sleep_page.replace("irritable", "grumpy", 1))
    (root / "etag-source.html").write_text(
        "<html><head><title>Walking</title></head><body><main><article><h1>Walking</h1>"
        + "".join(f"<p>Walk number {i} in the park changed how the afternoon felt, because "
                  f"moving outdoors for {i} minutes lifts the mood of many people.</p>"
                  for i in range(8))
        + "</article></main></body></html>")
    links = ["/broken.html", "/slow.html", "/report.pdf", "/huge.html", "/moved.html",
             "/garbage.html", "/copy.html", "/near-copy.html", "/private/drafts.html",
             "/etag.html", "http://example.com/offsite.html", "mailto:someone@example.org"]
    index = (root / "index.html").read_text()
    (root / "index.html").write_text(index.replace(
        "</ul>", "".join(f'<li><a href="{u}">x</a></li>' for u in links) + "</ul>"))
    log: list[tuple[float, str]] = []
    handler = partial(type("H", (Handler,), {"requests": log}), directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", log
    server.shutdown()


def _crawler(base: str, **overrides: object) -> Crawler:
    options = {"max_pages": 100, "delay": 0.05, "concurrency": 3, "timeout": 1.0,
               "max_bytes": 1_000_000, **overrides}
    config = CrawlConfig(seeds=[base + "/"], allow_domains=["127.0.0.1"],
                         sources=load_sources(ROOT / "fixtures" / "sources.yaml", []),
                         **options)
    return Crawler(config)


def _state(base: str, path: str) -> CrawledPage:
    return CrawledPage.objects.get(url=base + path)


def test_it_stores_every_article_with_provenance(site):
    base, _ = site
    report = _crawler(base).run(progress=False)
    assert set(Article.objects.values_list("slug", flat=True)) >= set(ARTICLES)
    sleep = Article.objects.get(slug="sleep-difficulties")
    assert sleep.url == f"{base}/articles/sleep-difficulties.html"
    assert sleep.title == "Sleep Difficulties"
    assert sleep.source == "Psy-LLM console corpus"
    assert sleep.quality_tier == "reviewed"
    assert len(sleep.content_hash) == 64 and sleep.pages.get().fetched_at
    assert "sleep" in sleep.topics
    assert "Related reading" not in sleep.body and "Privacy" not in sleep.body
    assert sleep.chunks.exists()
    assert report.counts[State.FETCHED] >= len(ARTICLES)


def test_it_survives_broken_slow_binary_huge_and_garbage_pages(site):
    base, _ = site
    _crawler(base).run(progress=False)
    assert _state(base, "/broken.html").detail == "HTTP 500"
    assert _state(base, "/slow.html").detail == "timed out"
    assert _state(base, "/report.pdf").state == State.SKIPPED
    assert "not HTML" in _state(base, "/report.pdf").detail
    assert "larger than" in _state(base, "/huge.html").detail
    assert _state(base, "/garbage.html").state in (State.SKIPPED, State.FAILED)
    assert Article.objects.filter(slug__in=ARTICLES).count() == len(ARTICLES)


def test_it_drops_exact_and_near_duplicates(site):
    base, _ = site
    _crawler(base).run(progress=False)
    for path in ("/copy.html", "/near-copy.html"):
        page = _state(base, path)
        assert page.state == State.DUPLICATE, (path, page.detail)
        assert "sleep-difficulties" in page.detail
    assert Article.objects.filter(title="Sleep Difficulties").count() == 1


def test_it_obeys_robots_txt_and_the_allow_list(site):
    base, log = site
    _crawler(base).run(progress=False)
    paths = [path for _, path in log]
    assert "/robots.txt" in paths and "/sitemap.xml" in paths
    assert not any(p.startswith("/private/") for p in paths)
    assert not CrawledPage.objects.filter(url__contains="example.com").exists()
    assert not CrawledPage.objects.filter(url__startswith="mailto:").exists()


def test_it_follows_redirects_to_the_final_url(site):
    base, _ = site
    _crawler(base).run(progress=False)
    moved = _state(base, "/moved.html")
    assert moved.final_url == f"{base}/articles/grief-and-loss.html"
    assert Article.objects.filter(title="Grief and Loss").count() == 1


def test_it_waits_between_requests_to_one_host(site):
    base, log = site
    _crawler(base, delay=0.2, max_pages=6).run(progress=False)
    starts = sorted(t for t, _ in log)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) >= 5
    assert min(gaps) >= 0.19


def test_a_re_run_fetches_conditionally_and_changes_nothing(site):
    base, log = site
    _crawler(base).run(progress=False)
    first = dict(Article.objects.values_list("slug", "content_hash"))
    log.clear()
    report = _crawler(base).run(progress=False)
    assert report.changed == []
    assert dict(Article.objects.values_list("slug", "content_hash")) == first
    assert _state(base, "/articles/sleep-difficulties.html").state == State.UNCHANGED
    etag_page = _state(base, "/etag.html")
    assert etag_page.state == State.UNCHANGED, (etag_page.etag, etag_page.detail, log)


def test_an_interrupted_crawl_resumes_where_it_stopped(site):
    base, _ = site
    _crawler(base, max_pages=3).run(progress=False)
    assert CrawledPage.objects.filter(state=State.QUEUED).exists()
    stored_before = set(Article.objects.values_list("slug", flat=True))
    _crawler(base).run(progress=False)
    assert not CrawledPage.objects.filter(state=State.QUEUED).exists()
    stored_after = set(Article.objects.values_list("slug", flat=True))
    assert stored_before <= stored_after and set(ARTICLES) <= stored_after


def test_the_command_crawls_and_indexes(site, settings, tmp_path):
    base, _ = site
    settings.INDEX_DIR = tmp_path / "index"
    call_command("crawl", "--seed", base + "/", "--delay", "0.01", "--timeout", "1",
                 "--no-progress")
    assert (settings.INDEX_DIR / "current" / "manifest.json").exists()


@pytest.mark.parametrize("args", [
    ["--seed", "not a url"], ["--seed", "ftp://127.0.0.1/"],
    ["--seed", "http://127.0.0.1/", "--max-pages", "0"],
])
def test_the_command_rejects_bad_arguments(args):
    with pytest.raises(CommandError):
        call_command("crawl", *args)
