"""The OpenAI-compatible backend against a small real server on loopback that serves
the tiny model through the transformers backend, streaming as vLLM does."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inference.backends import (
    GenerationError,
    OpenAICompatibleBackend,
    TransformersBackend,
    get_backend,
)
from inference.drafting import fit_passages
from inference.prompts import build_messages
from retrieval.service import Passage


def _server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


@pytest.fixture
def model_server(tiny_model) -> Iterator[tuple[str, list[dict]]]:
    local = TransformersBackend()
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
            result = local.generate(body["messages"], max_new_tokens=body["max_tokens"],
                                    max_seconds=30)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            words = result.text.split(" ")
            for i, word in enumerate(words):
                piece = word if i == 0 else " " + word
                chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            usage = {"prompt_tokens": result.prompt_tokens,
                     "completion_tokens": result.completion_tokens}
            self.wfile.write(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

    yield from ((url, seen) for url in _server(Handler))


MESSAGES = build_messages("How can I sleep better?", [])


def test_it_streams_a_draft_from_an_openai_compatible_server(model_server):
    url, seen = model_server
    remote = OpenAICompatibleBackend(base_url=url, model_name="tiny-remote", api_key="k")
    result = remote.generate(MESSAGES, max_new_tokens=12, max_seconds=30)
    local = TransformersBackend().generate(MESSAGES, max_new_tokens=12, max_seconds=30)
    assert result.text == local.text  # greedy decoding: the same words, over HTTP
    assert result.completion_tokens == local.completion_tokens
    assert seen[0]["path"] == "/v1/chat/completions"
    assert seen[0]["auth"] == "Bearer k"
    assert seen[0]["stream"] is True and seen[0]["messages"] == MESSAGES


def test_settings_select_the_http_backend(model_server, settings):
    url, _ = model_server
    settings.LLM_BACKEND = "openai"
    settings.LLM_API_BASE = url
    settings.LLM_API_MODEL = "big-model"
    backend = get_backend()
    assert (backend.kind, backend.model_name) == ("openai", "big-model")


def test_the_http_backend_needs_a_url(settings):
    settings.LLM_BACKEND = "openai"
    settings.LLM_API_BASE = ""
    with pytest.raises(GenerationError, match="PSY_LLM_API_BASE"):
        get_backend()


def test_a_server_error_is_a_clear_failure():
    class Failing(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"overloaded")

    for url in _server(Failing):
        with pytest.raises(GenerationError, match="503"):
            OpenAICompatibleBackend(base_url=url, model_name="m").generate(
                MESSAGES, max_new_tokens=5, max_seconds=5)


def test_an_unreachable_server_is_a_clear_failure():
    backend = OpenAICompatibleBackend(base_url="http://127.0.0.1:9/v1", model_name="m")
    with pytest.raises(GenerationError, match="could not be reached"):
        backend.generate(MESSAGES, max_new_tokens=5, max_seconds=2)


def test_a_slow_server_is_cut_off_at_the_time_limit():
    class Slow(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            time.sleep(3)

    for url in _server(Slow):
        with pytest.raises(GenerationError):
            OpenAICompatibleBackend(base_url=url, model_name="m").generate(
                MESSAGES, max_new_tokens=5, max_seconds=1)


def test_passages_are_trimmed_to_fit_and_the_question_never_is(tiny_model, settings):
    backend = TransformersBackend()
    passages = [Passage(i, 0.5, "s", f"T{i}", "/u", "", "word " * 300, 0, 1)
                for i in range(5)]
    question = "I can't sleep. " * 10
    backend.context_window = backend.count_tokens(build_messages(question, passages[:2])) + 50
    messages, kept = fit_passages(backend, question, passages, max_new_tokens=50)
    assert len(kept) == 2
    assert question.strip() in messages[1]["content"]
    backend.context_window = 10
    with pytest.raises(GenerationError, match="question alone"):
        fit_passages(backend, question, passages, max_new_tokens=50)
