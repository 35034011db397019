"""The data migration keeps the first four ratings: helpfulness, relevance and empathy
as they were, safety as toxicity_or_harm = 6 - safety, repeated annotations as a
revision chain; and running it backwards restores safety."""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("questions", "0008_annotation_rubric_and_double_annotation")]
MIGRATION = importlib.import_module(
    "psyconsole.questions.migrations.0009_migrate_legacy_ratings")


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.fixture
def legacy_rows(transactional_db):
    """Annotations as the old schema held them, at the migration before the data one."""
    old = _migrate(BEFORE)
    user = get_user_model().objects.create_user("legacy")
    Question = old.get_model("questions", "Question")
    Review = old.get_model("questions", "Review")
    Annotation = old.get_model("questions", "Annotation")
    question = Question.objects.create(text="An old question")
    review = Review.objects.create(question_id=question.pk, reviewer_id=user.pk,
                                   decision="approved", final_text="An old reply")
    rows = [Annotation.objects.create(review_id=review.pk, author_id=user.pk,
                                      helpfulness=4, relevance=3, empathy=5, safety=5,
                                      tags=["old"], note="first"),
            Annotation.objects.create(review_id=review.pk, author_id=user.pk,
                                      helpfulness=2, safety=2, note="second"),
            Annotation.objects.create(review_id=review.pk, author_id=user.pk,
                                      relevance=1, note="third, no safety")]
    yield old, [r.pk for r in rows]
    _migrate(_latest())


def test_the_data_migration_function_maps_the_old_ratings(legacy_rows):
    old, ids = legacy_rows
    MIGRATION.migrate_legacy_ratings(old, None)
    Annotation = old.get_model("questions", "Annotation")
    first, second, third = (Annotation.objects.get(pk=pk) for pk in ids)
    assert (first.helpfulness, first.relevance, first.empathy) == (4, 3, 5)
    assert first.safety == 5 and first.toxicity_or_harm == 1
    assert second.toxicity_or_harm == 4 and third.toxicity_or_harm is None
    assert {a.rubric_version for a in (first, second, third)} == {1}
    # The repeated annotations became a chain: only the newest is current.
    assert second.supersedes_id == first.pk and third.supersedes_id == second.pk
    assert first.superseded_at == second.created_at
    assert second.superseded_at == third.created_at and third.superseded_at is None
    # Running it again changes nothing.
    MIGRATION.migrate_legacy_ratings(old, None)
    again = Annotation.objects.get(pk=ids[1])
    assert (again.toxicity_or_harm, again.supersedes_id) == (4, first.pk)


def test_the_migrations_run_forwards_and_backwards_without_losing_ratings(legacy_rows):
    from psyconsole.questions.models import Annotation

    _, ids = legacy_rows
    _migrate(_latest())
    first, _, third = (Annotation.objects.get(pk=pk) for pk in ids)
    assert (first.helpfulness, first.relevance, first.empathy, first.toxicity_or_harm) == \
        (4, 3, 5, 1)
    assert first.tags == ["old"] and first.note == "first"
    assert list(Annotation.objects.filter(superseded_at__isnull=True)
                .values_list("pk", flat=True)) == [third.pk]
    old = _migrate(BEFORE)
    OldAnnotation = old.get_model("questions", "Annotation")
    assert [OldAnnotation.objects.get(pk=pk).safety for pk in ids] == [5, 2, None]
