"""Renders the fixture corpus as a small static website: pages, a sitemap, robots.txt.

It gives the crawler something real to crawl, in tests and in the demo. Each page wraps
the article in navigation and a footer, as real sites do, so extraction has to find the
main text.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import markdown

from retrieval.markdown_files import ArticleFile, parse_article

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<meta name="description" content="{summary}">
<meta name="article-id" content="{slug}">
<meta name="topics" content="{topics}">
<meta name="audience" content="{audience}">
<meta name="last-reviewed" content="{reviewed}">
</head><body>
<header><nav><a href="/">Home</a> | <a href="/articles/">All articles</a> |
<a href="/about.html">About us</a></nav></header>
<main><article>
<h1>{title}</h1>
<p class="summary">{summary}</p>
{body}
</article></main>
<aside><h2>Related reading</h2><ul>{related}</ul></aside>
<footer><p>Psy-LLM console corpus. Written for the project; last reviewed {reviewed}.</p>
<p><a href="/privacy.html">Privacy</a> | <a href="/contact.html">Contact</a></p></footer>
</body></html>
"""


def _link(item: ArticleFile) -> str:
    title = html.escape(str(item.meta["title"]))
    return f'<li><a href="/articles/{item.meta["slug"]}.html">{title}</a></li>'


def _page(item: ArticleFile, related: list[ArticleFile]) -> str:
    meta = item.meta
    # The corpus is trusted Markdown, but escaping first keeps raw HTML out of the site.
    body = markdown.markdown(html.escape(item.body, quote=False))
    links = "".join(_link(r) for r in related)
    return _PAGE.format(
        title=html.escape(str(meta["title"])),
        summary=html.escape(str(meta.get("summary", ""))),
        slug=html.escape(str(meta["slug"])),
        topics=html.escape(",".join(str(t) for t in meta.get("topics") or [])),
        audience=html.escape(str(meta.get("audience", ""))),
        reviewed=html.escape(str(meta.get("last_reviewed", ""))),
        body=body,
        related=links,
    )


def build_site(articles_dir: Path, out_dir: Path, base_url: str = "") -> int:
    """Writes the site into `out_dir` (replacing it) and returns the number of articles."""
    items = [parse_article(p) for p in sorted(articles_dir.glob("*.md"))]
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "articles").mkdir(parents=True)
    (tmp / "private").mkdir()
    for i, item in enumerate(items):
        related = [items[(i + k) % len(items)] for k in (1, 2, 3) if len(items) > k]
        page = tmp / "articles" / f"{item.meta['slug']}.html"
        page.write_text(_page(item, related), encoding="utf-8")
    listing = "".join(_link(i) for i in items)
    index = ("<!doctype html><html><head><title>Articles</title></head>"
             f"<body><ul>{listing}</ul></body></html>")
    (tmp / "index.html").write_text(index, encoding="utf-8")
    (tmp / "articles" / "index.html").write_text(index, encoding="utf-8")
    for name, text in [("about.html", "About the corpus."), ("privacy.html", "Privacy notice."),
                       ("contact.html", "Contact us."),
                       ("private/drafts.html", "Unpublished drafts: crawlers keep out.")]:
        (tmp / name).write_text(f"<!doctype html><html><body><p>{text}</p></body></html>",
                                encoding="utf-8")
    urls = "".join(
        f"<url><loc>{base_url}/articles/{i.meta['slug']}.html</loc>"
        f"<lastmod>{i.meta.get('last_reviewed', '')}</lastmod></url>"
        for i in items
    )
    (tmp / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>\n',
        encoding="utf-8",
    )
    robots = f"User-agent: *\nDisallow: /private/\n\nSitemap: {base_url}/sitemap.xml\n"
    (tmp / "robots.txt").write_text(robots, encoding="utf-8")
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return len(items)
