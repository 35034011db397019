"""Shared fixtures: users of each role, a JSON client, the tiny model and the index.
What tests build by hand (users, questions, clients) lives in `tests/factories.py`.

Tests run against the real PostgreSQL and Redis servers (`make test` points
DATABASE_URL and REDIS_URL at them).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings

from inference.tiny import build_tiny_model
from psyconsole.questions import roles
from tests.factories import JsonClient, copy_articles, make_drafted_question, make_user
from tests.live import child_env

TINY_MODEL_DIR = Path(settings.VAR_DIR) / "models" / "tiny-smollm2-v1"


def pytest_configure(config: pytest.Config) -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise pytest.UsageError("Run the tests with `make test`: they need PostgreSQL "
                                "(DATABASE_URL) and Redis (REDIS_URL).")
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session", autouse=True)
def _clean_redis() -> None:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings: Any) -> None:
    """Each test counts its own requests: the rate limits count in the shared Redis, where
    every earlier test's questions from 127.0.0.1 in the same minute would add up."""
    settings.RATELIMIT_CACHE_PREFIX = f"rl:{uuid.uuid4().hex}:"


@pytest.fixture(autouse=True)
def _rules_only_screening(settings: Any, tmp_path: Path) -> None:
    """Each test screens with the rules alone unless it asks for the `trained` classifier,
    so no test depends on a model another test left behind."""
    settings.SCREENER_MODEL_PATH = str(tmp_path / "screener")
    settings.SCREENER_SHIPPED_PATH = ""


@pytest.fixture(scope="session")
def trained_screener_dir() -> Path:
    """The screening classifier the project ships, loaded through the real code."""
    from psyconsole.screening.classifier import SHIPPED_PATH

    return SHIPPED_PATH


@pytest.fixture
def trained(settings: Any, trained_screener_dir: Path) -> Path:
    """Screening with the shipped fine-tuned classifier as well as the rules."""
    settings.SCREENER_SHIPPED_PATH = str(trained_screener_dir)
    return trained_screener_dir


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    return build_tiny_model(TINY_MODEL_DIR)


@pytest.fixture
def tiny_model(settings: Any, tiny_model_dir: Path, db: None) -> Path:
    # The active model is looked up in the database (a promoted version wins), so this
    # fixture needs it too.
    settings.LLM_MODEL_PATH = str(tiny_model_dir)
    settings.LLM_MODEL_NAME = "tiny-smollm2"
    settings.LLM_ADAPTER_PATH = ""
    settings.LLM_MODEL_VERSION = ""
    settings.LLM_MAX_NEW_TOKENS = 24
    return tiny_model_dir


# A slice of the corpus, enough for retrieval to have real choices, small enough to
# embed in a few seconds per test.
CORE_ARTICLES = [
    "anxiety-and-panic", "low-mood-and-depression", "stress-and-burnout",
    "sleep-difficulties", "grief-and-loss", "loneliness",
    "suicidal-thoughts-and-getting-help", "self-harm-urges", "box-breathing-and-grounding",
    "finding-a-therapist", "exam-stress", "relationship-conflict",
]


@pytest.fixture(scope="session")
def core_articles_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_articles(tmp_path_factory.mktemp("articles"), CORE_ARTICLES)


@pytest.fixture
def corpus_index(settings: Any, tmp_path: Path, db: None, core_articles_dir: Path) -> Path:
    """Part of the fixture corpus, loaded and indexed with the real embedder."""
    from retrieval.corpus import load_directory
    from retrieval.index import build_index

    settings.INDEX_DIR = tmp_path / "index"
    load_directory(core_articles_dir)
    build_index(settings.INDEX_DIR, progress=False)
    return settings.INDEX_DIR


@pytest.fixture
def worker_env(tiny_model_dir: Path, corpus_index: Path) -> dict[str, str]:
    """The environment of a real worker process drafting with the tiny model. The broker
    queue is emptied first: tasks that earlier tests queued without a worker would
    otherwise be taken before this test's own, and its drafts would wait behind them."""
    from psyconsole.celery import app

    app.control.purge()
    return child_env(PSY_LLM_MODEL_PATH=str(tiny_model_dir), PSY_LLM_MODEL_NAME="tiny-smollm2",
                     PSY_LLM_MAX_NEW_TOKENS="24", PSY_INDEX_DIR=str(corpus_index))


@pytest.fixture
def counsellor(db: None) -> Any:
    return make_user("casey", roles.COUNSELLOR)


@pytest.fixture
def other_counsellor(db: None) -> Any:
    return make_user("robin", roles.COUNSELLOR)


@pytest.fixture
def supervisor(db: None) -> Any:
    return make_user("sam", roles.SUPERVISOR)


@pytest.fixture
def outsider(db: None) -> Any:
    """A signed-in account with no console role."""
    return make_user("olly", None)


@pytest.fixture
def api() -> JsonClient:
    return JsonClient()


@pytest.fixture
def staff_api(counsellor: Any) -> Iterator[JsonClient]:
    client = JsonClient()
    client.force_login(counsellor)
    yield client


@pytest.fixture
def drafted_question(db: None) -> Any:
    return make_drafted_question()
