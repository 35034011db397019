from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from retrieval.site import build_site


class Command(BaseCommand):
    help = "Renders the fixture corpus as a static website (pages, sitemap.xml, robots.txt)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--articles", type=Path, default=settings.ARTICLES_DIR)
        parser.add_argument("--out", type=Path, default=Path(settings.VAR_DIR) / "site")

    def handle(self, *args: Any, **options: Any) -> None:
        count = build_site(options["articles"], options["out"])
        self.stdout.write(self.style.SUCCESS(f"Wrote {count} articles to {options['out']}. "
                                             f"Serve it with: python -m http.server -d "
                                             f"{options['out']} 8001"))
