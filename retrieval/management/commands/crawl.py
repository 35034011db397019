from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from retrieval.crawler import CrawlConfig, Crawler, load_sources
from retrieval.index import IndexMissing, build_index, update_index


class Command(BaseCommand):
    help = ("Crawls allow-listed psychoeducation sites into the corpus, then updates the "
            "index with what changed. Safe to re-run: it resumes queued pages and "
            "re-fetches the rest conditionally.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seed", action="append", required=True, help="Start URL.")
        parser.add_argument("--allow-domain", action="append", default=[],
                            help="Only store pages from these domains (and subdomains). "
                                 "Defaults to the seeds' hosts.")
        parser.add_argument("--max-pages", type=int, default=500)
        parser.add_argument("--max-depth", type=int, default=3)
        parser.add_argument("--delay", type=float, default=1.0,
                            help="Seconds between requests to one host.")
        parser.add_argument("--concurrency", type=int, default=4)
        parser.add_argument("--timeout", type=float, default=10.0)
        parser.add_argument("--max-bytes", type=int, default=2_000_000)
        parser.add_argument("--no-index", action="store_true")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        seeds = options["seed"]
        for seed in seeds:
            parts = urlsplit(seed)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise CommandError(f"--seed must be an http(s) URL, not {seed!r}")
        if options["max_pages"] < 1 or options["concurrency"] < 1 or options["delay"] < 0:
            raise CommandError("--max-pages and --concurrency must be positive, "
                               "--delay not negative.")
        domains = options["allow_domain"] or [urlsplit(s).hostname for s in seeds]
        config = CrawlConfig(
            seeds=seeds, allow_domains=domains,
            sources=load_sources(settings.CORPUS_SOURCES_FILE, domains),
            max_pages=options["max_pages"], max_depth=options["max_depth"],
            delay=options["delay"], concurrency=options["concurrency"],
            timeout=options["timeout"], max_bytes=options["max_bytes"],
        )
        report = Crawler(config).run(progress=not options["no_progress"])
        self.stdout.write(f"Crawl finished: {json.dumps(report.counts)}; "
                          f"{len(report.changed)} articles new or changed.")
        if options["no_index"] or not report.changed:
            return
        removed = [i for item in report.changed for i in item.removed_chunk_ids]
        added = [i for item in report.changed for i in item.added_chunk_ids]
        try:
            manifest = update_index(settings.INDEX_DIR, add=added, remove=removed)
        except IndexMissing:
            manifest = build_index(settings.INDEX_DIR, progress=not options["no_progress"])
        self.stdout.write(self.style.SUCCESS(f"Index now holds {manifest['count']} chunks."))
