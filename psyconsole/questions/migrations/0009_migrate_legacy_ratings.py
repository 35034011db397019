"""Moves the first four ratings into the rubric without losing any of them.

- helpfulness, relevance and empathy keep their columns and values;
- safety (1-5, 5 = safe) becomes toxicity_or_harm = 6 - safety (1 = none, 5 = severe):
  the same judgement in CounselBench's direction. The mapping is its own inverse, so the
  backward migration restores safety exactly;
- the migrated rows are marked rubric_version = 1, so the export and the agreement can
  tell a harm rating that was asked as "safety" from one asked as "toxicity or harm";
- an author who annotated one review several times (the old form allowed it) keeps every
  row: the rows become a revision chain, the newest current, each older one superseded
  by the next (so the one-current-annotation constraint holds).
"""

from django.db import migrations


def migrate_legacy_ratings(apps, schema_editor):
    Annotation = apps.get_model("questions", "Annotation")
    previous = {}
    for row in Annotation.objects.order_by("review_id", "author_id", "created_at", "id"):
        row.rubric_version = 1
        if row.safety is not None and row.toxicity_or_harm is None:
            row.toxicity_or_harm = 6 - row.safety
        earlier = previous.get((row.review_id, row.author_id))
        if earlier is not None:
            row.supersedes_id = earlier.pk
            Annotation.objects.filter(pk=earlier.pk).update(superseded_at=row.created_at)
        row.save(update_fields=["rubric_version", "toxicity_or_harm", "supersedes"])
        previous[(row.review_id, row.author_id)] = row


def restore_legacy_ratings(apps, schema_editor):
    Annotation = apps.get_model("questions", "Annotation")
    for row in Annotation.objects.all():
        if row.toxicity_or_harm is not None:
            row.safety = 6 - row.toxicity_or_harm
        row.save(update_fields=["safety"])
    # The revision chain of legacy rows is undone too: the old schema had no history.
    Annotation.objects.update(supersedes=None, superseded_at=None)


class Migration(migrations.Migration):

    dependencies = [
        ("questions", "0008_annotation_rubric_and_double_annotation"),
    ]

    operations = [
        migrations.RunPython(migrate_legacy_ratings, restore_legacy_ratings),
    ]
