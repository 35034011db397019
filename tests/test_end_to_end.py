"""The whole loop on real parts: HTTP intake, Redis, a real Celery worker process
drafting with the real loading code (tiny model, real tokenizer), FAISS retrieval,
a counsellor's review and the client's tracking page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from psyconsole.questions.models import Draft
from psyconsole.questions.tasks import draft_question
from tests.factories import JsonClient
from tests.live import WorkerProcess, wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(worker_env: dict[str, str]) -> Iterator[WorkerProcess]:
    process = WorkerProcess(worker_env)
    process.wait_for("ready")
    yield process
    process.stop()


def test_a_question_is_drafted_reviewed_and_delivered(worker, counsellor):
    client = JsonClient()
    created = client.post_json("/api/v1/questions",
                               {"text": "I lie awake every night worrying about work."})
    assert created.status_code == 201
    qid, code = created.json()["id"], created.json()["tracking_code"]
    assert client.get(f"/api/v1/questions/{code}").json()["reply"] is None

    wait_for_status(qid, "drafted")
    draft = Draft.objects.get(question_id=qid)
    assert draft.model_version.name == "tiny-smollm2"
    assert draft.passages and draft.completion_tokens > 0

    token = client.post_json("/api/v1/auth/token", {
        "username": "casey", "password": "correct horse battery staple"}).json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    queue = client.get("/api/v1/console/queue", **auth).json()
    assert any(row["id"] == qid and row["has_draft"] for row in queue)
    assert client.post(f"/api/v1/console/questions/{qid}/claim", **auth).status_code == 200
    approved = client.post_json(f"/api/v1/console/questions/{qid}/approve",
                                {"text": "You are not alone in this. Try a wind-down "
                                         "routine [1]."}, **auth)
    assert approved.status_code == 200

    tracked = client.get(f"/api/v1/questions/{code}").json()
    assert tracked["status"] == "delivered"
    assert tracked["reply"]["text"].startswith("You are not alone")
    assert "reviewed" in tracked["reply"]["disclosure"]


def test_a_redelivered_task_does_not_draft_twice(worker):
    created = JsonClient().post_json("/api/v1/questions", {"text": "I feel lonely."})
    qid = created.json()["id"]
    wait_for_status(qid, "drafted")
    repeats = [draft_question.delay(qid), draft_question.delay(qid)]
    for result in repeats:
        worker.wait_for(f"[{result.id}] succeeded")
    assert Draft.objects.filter(question_id=qid).count() == 1


def test_crisis_questions_are_drafted_first(worker_env):
    client = JsonClient()
    calm = [client.post_json("/api/v1/questions", {"text": f"I feel stressed {i}"}).json()["id"]
            for i in range(2)]
    crisis = client.post_json("/api/v1/questions",
                              {"text": "I want to kill myself tonight"}).json()["id"]
    process = WorkerProcess(worker_env)  # starts only now, with all three waiting
    try:
        for qid in [*calm, crisis]:
            wait_for_status(qid, "drafted")
    finally:
        process.stop()
    order = list(Draft.objects.order_by("created_at").values_list("question_id", flat=True))
    assert order[0] == crisis
