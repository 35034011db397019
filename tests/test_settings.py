"""Configuration from the environment, production checks and the embedded Redis."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import redis

from psyconsole import embedded_redis
from tests.factories import ROOT


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("DJANGO_", "PSY_", "DATABASE_URL", "REDIS_URL"))}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, text=True,
                          capture_output=True, env={**clean, **env}, timeout=120)


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="console.example.org",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        REDIS_URL="redis://127.0.0.1:6379/5",
        PSY_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_check_deploy_flags_a_plain_http_set_up(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING",
                     DJANGO_SECRET_KEY=secrets.token_urlsafe(50), PSY_HTTPS="0",
                     PSY_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stderr + result.stdout


def test_the_defaults_are_sqlite_and_the_embedded_redis(tmp_path):
    code = ("from django.conf import settings as s; "
            "print(s.DATABASES['default']['ENGINE'], s.REDIS_URL, s.CELERY_BROKER_URL)")
    result = _manage("shell", "-c", code, PSY_VAR_DIR=str(tmp_path), PSY_HTTPS="0")
    engine, redis_url, broker = result.stdout.strip().splitlines()[-1].split()
    assert engine == "django.db.backends.sqlite3"
    assert redis_url == f"unix://{tmp_path}/redis/redis.sock"
    assert broker == f"redis+socket://{tmp_path}/redis/redis.sock"


def test_the_embedded_redis_starts_on_demand_and_stops(tmp_path):
    socket = tmp_path / "redis" / "redis.sock"
    assert not embedded_redis.is_running(socket)
    embedded_redis.ensure_running(socket)
    try:
        client = redis.Redis(unix_socket_path=str(socket))
        client.set("k", "v")
        assert client.get("k") == b"v"
        embedded_redis.ensure_running(socket)  # a second caller reuses the same server
        assert client.get("k") == b"v"
    finally:
        embedded_redis.stop(socket)
    assert not embedded_redis.is_running(socket)


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _manage("check", PSY_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
