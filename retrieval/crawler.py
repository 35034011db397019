"""A polite, resumable crawler for psychoeducation sites.

- Obeys robots.txt and reads the sitemaps it names (and /sitemap.xml).
- One request at a time per host, `delay` seconds apart; `concurrency` hosts at once.
- Follows redirects; re-fetches conditionally with ETag / Last-Modified.
- Extracts the main text with trafilatura; drops exact and near duplicates; stores only
  allow-listed sources, with provenance (URL, title, fetch time, hash, source, tier).
- Each page is committed on its own, so a broken page, a timeout or a crash loses
  nothing already stored; the frontier lives in the database, so a re-run resumes.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx
import lxml.etree
import lxml.html
import trafilatura
import yaml
from django.utils import timezone
from django.utils.text import slugify
from tqdm import tqdm

from retrieval.corpus import StoredArticle, content_hash, store_article
from retrieval.dedup import is_near_duplicate, simhash
from retrieval.models import Article, CrawledPage

logger = logging.getLogger(__name__)

USER_AGENT = "PsyConsoleCrawler/1.0 (+local corpus crawler)"
HTML_TYPES = ("text/html", "application/xhtml+xml")
MIN_TEXT_CHARS = 300
State = CrawledPage.State


@dataclass(frozen=True)
class Source:
    name: str
    quality_tier: str
    domains: tuple[str, ...]

    def matches(self, host: str) -> bool:
        return any(host == d or host.endswith("." + d) for d in self.domains)


def load_sources(path: Path, extra_domains: list[str]) -> list[Source]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else []
    sources = [Source(e["name"], e.get("quality_tier", Article.QualityTier.UNREVIEWED),
                      tuple(d.lower() for d in e["domains"])) for e in entries or []]
    known = {d for s in sources for d in s.domains}
    for domain in extra_domains:
        domain = domain.lower().strip()
        if domain and domain not in known:
            sources.append(Source(domain, Article.QualityTier.UNREVIEWED, (domain,)))
    return sources


@dataclass
class CrawlConfig:
    seeds: list[str]
    allow_domains: list[str]
    sources: list[Source]
    max_pages: int = 500
    max_depth: int = 3
    delay: float = 1.0
    concurrency: int = 4
    timeout: float = 10.0
    max_bytes: int = 2_000_000


@dataclass
class FetchResult:
    url: str
    http_status: int | None = None
    final_url: str = ""
    html: str = ""
    etag: str = ""
    last_modified: str = ""
    outcome: str = State.FETCHED
    detail: str = ""


@dataclass
class CrawlReport:
    counts: dict[str, int] = field(default_factory=dict)
    changed: list[StoredArticle] = field(default_factory=list)

    def add(self, state: str) -> None:
        self.counts[state] = self.counts.get(state, 0) + 1


class HostGate:
    """Spaces requests to the same host at least `delay` seconds apart."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._locks: dict[str, threading.Lock] = {}
        self._next: dict[str, float] = {}
        self._guard = threading.Lock()

    def __call__(self, host: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(host, threading.Lock())

    def wait_turn(self, host: str) -> None:
        now = time.monotonic()
        pause = self._next.get(host, now) - now
        if pause > 0:
            time.sleep(pause)
        self._next[host] = time.monotonic() + self.delay


class Crawler:
    def __init__(self, config: CrawlConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self.client = client or httpx.Client(
            headers={"User-Agent": USER_AGENT}, follow_redirects=True, max_redirects=5,
            timeout=httpx.Timeout(config.timeout),
        )
        self.gate = HostGate(config.delay)
        self.robots: dict[str, RobotFileParser] = {}
        self.run_id = uuid.uuid4().hex

    # --- rules --------------------------------------------------------------------

    def source_for(self, url: str) -> Source | None:
        host = (urlsplit(url).hostname or "").lower()
        allowed = {d.lower() for d in self.config.allow_domains}
        if allowed and not any(host == d or host.endswith("." + d) for d in allowed):
            return None
        return next((s for s in self.config.sources if s.matches(host)), None)

    def robots_for(self, url: str) -> RobotFileParser:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self.robots:
            parser = RobotFileParser(origin + "/robots.txt")
            try:
                response = self._get(origin + "/robots.txt")
                if response.status_code >= 400:
                    parser.parse([])  # no robots.txt: everything is allowed
                else:
                    parser.parse(response.text.splitlines())
            except httpx.HTTPError:
                parser.parse([])
            self.robots[origin] = parser
        return self.robots[origin]

    def allowed(self, url: str) -> bool:
        return (urlsplit(url).scheme in ("http", "https") and self.source_for(url) is not None
                and self.robots_for(url).can_fetch(USER_AGENT, url))

    # --- fetching (worker threads) ----------------------------------------------------

    def _get(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        host = urlsplit(url).netloc
        with self.gate(host):
            self.gate.wait_turn(host)
            return self.client.get(url, headers=headers or {})

    def fetch(self, url: str, etag: str, last_modified: str) -> FetchResult:
        result = FetchResult(url)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        host = urlsplit(url).netloc
        try:
            with self.gate(host):
                self.gate.wait_turn(host)
                with self.client.stream("GET", url, headers=headers) as response:
                    result.http_status = response.status_code
                    result.final_url = str(response.url)
                    result.etag = response.headers.get("ETag", "")
                    result.last_modified = response.headers.get("Last-Modified", "")
                    if response.status_code == 304:
                        result.outcome = State.UNCHANGED
                        return result
                    if response.status_code >= 400:
                        result.outcome = State.FAILED
                        result.detail = f"HTTP {response.status_code}"
                        return result
                    kind = response.headers.get("Content-Type", "").split(";")[0]
                    kind = kind.strip().lower()
                    if kind not in HTML_TYPES:
                        result.outcome = State.SKIPPED
                        result.detail = f"not HTML ({kind or 'no type'})"
                        return result
                    body = bytearray()
                    for piece in response.iter_bytes():
                        body.extend(piece)
                        if len(body) > self.config.max_bytes:
                            result.outcome = State.SKIPPED
                            result.detail = f"larger than {self.config.max_bytes} bytes"
                            return result
                    result.html = body.decode(response.encoding or "utf-8", errors="replace")
        except httpx.TimeoutException:
            result.outcome, result.detail = State.FAILED, "timed out"
        except httpx.HTTPError as exc:
            result.outcome, result.detail = State.FAILED, f"{type(exc).__name__}: {exc}"[:500]
        return result

    # --- the frontier (main thread) -------------------------------------------------------

    def enqueue(self, url: str, depth: int) -> None:
        url = urldefrag(url)[0]
        if len(url) > 2048 or not self.allowed(url):
            return
        page, created = CrawledPage.objects.get_or_create(url=url, defaults={"depth": depth})
        if not created and page.run_id != self.run_id and page.state != State.QUEUED:
            # Known from an earlier run: check it again this run, conditionally.
            CrawledPage.objects.filter(pk=page.pk).update(state=State.QUEUED)

    def seed(self) -> None:
        # Everything known from earlier runs is checked again (conditionally, so cheaply):
        # a page whose parent answered 304 would otherwise never be revisited.
        known = CrawledPage.objects.exclude(state=State.QUEUED).only("id", "url")
        recheck = [p.pk for p in known.iterator() if self.source_for(p.url) is not None]
        CrawledPage.objects.filter(pk__in=recheck).update(state=State.QUEUED)
        for seed in self.config.seeds:
            self.enqueue(seed, 0)
            for sitemap in self._sitemaps(seed):
                for url in self._sitemap_urls(sitemap, depth=0):
                    self.enqueue(url, 1)

    def _sitemaps(self, seed: str) -> list[str]:
        parts = urlsplit(seed)
        origin = f"{parts.scheme}://{parts.netloc}"
        named = self.robots_for(seed).site_maps() or []
        # A sitemap URL written for another host name points at this site's own path.
        local = [origin + urlsplit(s).path for s in named]
        return list(dict.fromkeys([*local, origin + "/sitemap.xml"]))

    def _sitemap_urls(self, url: str, depth: int) -> list[str]:
        if depth > 2:
            return []
        try:
            response = self._get(url)
            if response.status_code >= 400:
                return []
            root = lxml.etree.fromstring(response.content,
                                         parser=lxml.etree.XMLParser(resolve_entities=False,
                                                                     no_network=True))
        except (httpx.HTTPError, lxml.etree.XMLSyntaxError):
            return []
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        locs = [origin + urlsplit(loc.text.strip()).path
                if not urlsplit(loc.text.strip()).netloc else loc.text.strip()
                for loc in root.iter("{*}loc") if loc.text]
        if root.tag.endswith("sitemapindex"):
            return [u for child in locs for u in self._sitemap_urls(child, depth + 1)]
        return locs

    def _links(self, html: str, base: str) -> list[str]:
        try:
            tree = lxml.html.fromstring(html)
        except (lxml.etree.ParserError, ValueError):
            return []
        return [urljoin(base, href) for href in tree.xpath("//a/@href")]

    # --- storing (main thread) --------------------------------------------------------------

    def store(self, page: CrawledPage, result: FetchResult, report: CrawlReport) -> str:
        source = self.source_for(result.final_url or result.url)
        if source is None or not self.allowed(result.final_url or result.url):
            return self._finish(page, result, State.SKIPPED, "redirected off the allow-list")
        extracted = trafilatura.extract(
            result.html, output_format="markdown", include_formatting=True,
            include_comments=False, include_links=False, include_tables=False,
            favor_precision=True,
        ) or ""
        if len(extracted) < MIN_TEXT_CHARS:
            self._enqueue_links(result, page.depth)
            return self._finish(page, result, State.SKIPPED, "too little main text")
        digest = content_hash(extracted)
        fingerprint = simhash(extracted)
        for other in Article.objects.exclude(pages=page).only("id", "url", "content_hash",
                                                              "simhash"):
            if other.url == (result.final_url or result.url):
                continue
            if other.content_hash == digest or (
                    other.simhash is not None and is_near_duplicate(other.simhash, fingerprint)):
                return self._finish(page, result, State.DUPLICATE, f"duplicate of {other.url}")
        meta = self._metadata(result)
        stored = store_article(meta, extracted, url=result.final_url or result.url,
                               source=source.name, quality_tier=source.quality_tier)
        if stored.changed:
            report.changed.append(stored)
        page.article = stored.article
        self._enqueue_links(result, page.depth)
        return self._finish(page, result, State.FETCHED, "", digest)

    def _enqueue_links(self, result: FetchResult, depth: int) -> None:
        if depth < self.config.max_depth:
            for link in self._links(result.html, result.final_url or result.url):
                self.enqueue(link, depth + 1)

    def _metadata(self, result: FetchResult) -> dict[str, object]:
        tree = lxml.html.fromstring(result.html)

        def meta(name: str) -> str:
            values = tree.xpath(f'//meta[@name="{name}"]/@content')
            return values[0].strip() if values else ""
        info = trafilatura.extract_metadata(result.html)
        title = (info.title if info and info.title else "") or meta("title") or result.url
        url = result.final_url or result.url
        slug = slugify(meta("article-id")) or slugify(Path(urlsplit(url).path).stem or
                                                      urlsplit(url).netloc)
        clash = Article.objects.filter(slug=slug).exclude(url=url).exists()
        if clash and not meta("article-id"):
            slug = f"{slug}-{content_hash(url)[:8]}"
        try:
            reviewed: date | None = date.fromisoformat(meta("last-reviewed"))
        except ValueError:
            reviewed = None
        return {
            "slug": slug[:200],
            "title": title[:300],
            "summary": meta("description") or (info.description if info else "") or "",
            "topics": [t for t in re.split(r"[,;]\s*", meta("topics")) if t],
            "audience": meta("audience"),
            "last_reviewed": reviewed,
        }

    def _finish(self, page: CrawledPage, result: FetchResult, state: str, detail: str = "",
                digest: str = "") -> str:
        page.state = state
        page.detail = detail[:500]
        page.http_status = result.http_status
        page.final_url = result.final_url[:2048]
        page.etag = result.etag[:512] or page.etag
        page.last_modified = result.last_modified[:128] or page.last_modified
        page.content_hash = digest or page.content_hash
        page.fetched_at = timezone.now()
        page.run_id = self.run_id
        page.save()
        return state

    # --- the run ----------------------------------------------------------------------------

    def run(self, progress: bool = True) -> CrawlReport:
        report = CrawlReport()
        self.seed()
        done = 0
        bar = tqdm(total=self.config.max_pages, desc="Crawling", unit="page",
                   disable=not progress)
        in_flight: dict[Future[FetchResult], CrawledPage] = {}
        with ThreadPoolExecutor(self.config.concurrency) as pool:
            while done < self.config.max_pages:
                room = min(self.config.concurrency, self.config.max_pages - done) - len(in_flight)
                busy = [p.pk for p in in_flight.values()]
                for page in (CrawledPage.objects.filter(state=State.QUEUED)
                             .exclude(pk__in=busy).order_by("depth", "id")[:max(room, 0)]):
                    in_flight[pool.submit(self.fetch, page.url, page.etag,
                                          page.last_modified)] = page
                if not in_flight:
                    break
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    page = in_flight.pop(future)
                    state = self._handle(page, future.result(), report)
                    report.add(state)
                    done += 1
                    bar.update(1)
                    bar.set_postfix(report.counts)
        bar.close()
        return report

    def _handle(self, page: CrawledPage, result: FetchResult, report: CrawlReport) -> str:
        try:
            if result.outcome != State.FETCHED:
                return self._finish(page, result, result.outcome, result.detail)
            return self.store(page, result, report)
        except Exception as exc:  # one bad page must never end the crawl
            logger.warning("Could not store %s", page.url, exc_info=True)
            return self._finish(page, result, State.FAILED, f"{type(exc).__name__}: {exc}")
