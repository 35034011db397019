from __future__ import annotations

from django.db import models


class Article(models.Model):
    class QualityTier(models.TextChoices):
        REVIEWED = "reviewed", "Reviewed by our clinicians"
        TRUSTED = "trusted", "Trusted public source"
        UNREVIEWED = "unreviewed", "Allowed but not reviewed"

    slug = models.SlugField(max_length=200, unique=True)
    title = models.CharField(max_length=300)
    url = models.CharField(max_length=1024, blank=True)
    source = models.CharField(max_length=200, blank=True)
    quality_tier = models.CharField(max_length=16, choices=QualityTier.choices,
                                    default=QualityTier.REVIEWED)
    simhash = models.BigIntegerField(null=True, blank=True,
                                     help_text="64-bit SimHash of the text, for near-duplicates.")
    topics = models.JSONField(default=list, blank=True)
    summary = models.TextField(blank=True)
    audience = models.CharField(max_length=200, blank=True)
    last_reviewed = models.DateField(null=True, blank=True)
    body = models.TextField()
    content_hash = models.CharField(max_length=64)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Chunk(models.Model):
    """A passage of an article; its id is the stable id used in the FAISS index."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    heading = models.CharField(max_length=300, blank=True)
    text = models.TextField()
    start_offset = models.PositiveIntegerField()
    end_offset = models.PositiveIntegerField()

    class Meta:
        ordering = ["article", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["article", "ordinal"], name="chunk_ordinal_unique"),
            models.CheckConstraint(condition=models.Q(end_offset__gt=models.F("start_offset")),
                                   name="chunk_offsets_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.article.slug}#{self.ordinal}"


class CrawledPage(models.Model):
    """One URL the crawler knows: its frontier state and what it last found there.

    The table is the crawl's memory: a re-run resumes queued pages and re-fetches the
    others conditionally (ETag / Last-Modified)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        FETCHED = "fetched", "Fetched and stored"
        UNCHANGED = "unchanged", "Not modified since last fetch"
        DUPLICATE = "duplicate", "Duplicate of another page"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    url = models.CharField(max_length=2048, unique=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    depth = models.PositiveSmallIntegerField(default=0)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    final_url = models.CharField(max_length=2048, blank=True)
    etag = models.CharField(max_length=512, blank=True)
    last_modified = models.CharField(max_length=128, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    article = models.ForeignKey(Article, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="pages")
    fetched_at = models.DateTimeField(null=True, blank=True)
    run_id = models.CharField(max_length=32, blank=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["state", "depth"], name="crawl_frontier_idx")]

    def __str__(self) -> str:
        return f"{self.url} ({self.state})"
