"""Who is viewing each question now: the question page's "Also viewing" and the queue's
"viewing: ..." markers, so two counsellors do not both start a reply.

One sorted set per question in Redis, with a member per open question page (the user's
id and the page's channel, so closing a second tab leaves the first one counted), scored
with the time of its last heartbeat. An entry older than PRESENCE_TTL_SECONDS is dropped
whenever its set is read, and every heartbeat sweeps the sets of all viewed questions
(an index set names them, so no key is scanned): a page that froze or lost its network
leaves the list within about a minute even if nobody else is on that question.

The websocket consumer uses the async functions, on the channel layer's own Redis
connection for its event loop; pages use the sync ones. Only user ids are stored, and
only display names are shown: presence never touches a client's text. With Redis down
a page shows nobody viewing: presence is a courtesy, never a reason for a page to fail.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth import get_user_model

logger = logging.getLogger(__name__)

# The layer's connections answer bytes; the sync client here does too.
Members = Iterable[bytes | str]


def _prefix() -> str:
    # The channel layer's prefix, so two deployments sharing a Redis stay apart.
    return str(settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "psyconsole"))


def _key(question_id: int) -> str:
    return f"{_prefix()}:presence:question:{question_id}"


def _index_key() -> str:
    return f"{_prefix()}:presence:questions"


def _member(user_id: int, channel: str) -> str:
    return f"{user_id}:{channel}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _user_ids(members: Members) -> list[int]:
    """Each user once, in the order they arrived (a user with two tabs counts once)."""
    seen: dict[int, None] = {}
    for member in members:
        user_id, _, _ = _text(member).partition(":")
        if user_id.isdigit():
            seen.setdefault(int(user_id), None)
    return list(seen)


def _stale_before(now: float) -> float:
    return now - settings.PRESENCE_TTL_SECONDS


# --- the consumer's side (async; `conn` is a redis.asyncio client) ----------------------

async def arrive(conn: Any, question_id: int, user_id: int, channel: str, now: float) -> None:
    """Records (or refreshes, on a heartbeat) one page viewing a question."""
    ttl = settings.PRESENCE_TTL_SECONDS
    async with conn.pipeline(transaction=False) as pipe:
        pipe.zadd(_key(question_id), {_member(user_id, channel): now})
        # The whole set goes if every page on it vanished with no sweep to clear it.
        pipe.expire(_key(question_id), 2 * ttl)
        pipe.zadd(_index_key(), {str(question_id): now})
        pipe.expire(_index_key(), 2 * ttl)
        await pipe.execute()


async def leave(conn: Any, question_id: int, user_id: int, channel: str) -> None:
    await conn.zrem(_key(question_id), _member(user_id, channel))


async def viewer_ids(conn: Any, question_id: int, now: float) -> list[int]:
    """The users with a live page on the question, stale entries dropped first."""
    async with conn.pipeline(transaction=False) as pipe:
        pipe.zremrangebyscore(_key(question_id), "-inf", _stale_before(now))
        pipe.zrange(_key(question_id), 0, -1)
        _, members = await pipe.execute()
    return _user_ids(members)


async def sweep(conn: Any, now: float) -> list[int]:
    """Drops stale entries from every viewed question; returns the questions that lost
    one, whose viewers must be told. Two sweeps at once drop each entry once (ZREM...
    counts what it removed), so a change is announced once."""
    question_ids = [int(_text(q)) for q in await conn.zrange(_index_key(), 0, -1)]
    if not question_ids:
        return []
    async with conn.pipeline(transaction=False) as pipe:
        for question_id in question_ids:
            pipe.zremrangebyscore(_key(question_id), "-inf", _stale_before(now))
            pipe.zcard(_key(question_id))
        results = await pipe.execute()
    changed = []
    empty = []
    for i, question_id in enumerate(question_ids):
        removed, left = results[2 * i], results[2 * i + 1]
        if removed:
            changed.append(question_id)
        if not left:
            empty.append(str(question_id))
    if empty:
        await conn.zrem(_index_key(), *empty)
    return changed


# --- the pages' side (sync) -------------------------------------------------------------

@functools.cache
def _sync_client(url: str) -> redis.Redis:
    # Short timeouts: with Redis down the page renders at once, showing nobody viewing.
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


def viewers_by_question(question_ids: Iterable[int]) -> dict[int, list[int]]:
    """The user ids viewing each of these questions (empty lists left out)."""
    from psyconsole.broker import ensure_configured_redis

    ids = list(question_ids)
    if not ids:
        return {}
    stale = _stale_before(time.time())
    try:
        ensure_configured_redis()
        with _sync_client(settings.REDIS_URL).pipeline(transaction=False) as pipe:
            for question_id in ids:
                pipe.zrangebyscore(_key(question_id), stale, "+inf")
            results = pipe.execute()
    except (redis.RedisError, OSError):
        logger.warning("Could not read who is viewing questions", exc_info=True)
        return {}
    return {q: users for q, members in zip(ids, results, strict=True)
            if (users := _user_ids(members))}


def display_names(user_ids: Iterable[int]) -> dict[int, str]:
    """What the console calls each user: the full name, else the username."""
    users = get_user_model().objects.filter(pk__in=list(user_ids))
    return {user.pk: user.get_full_name() or user.get_username() for user in users}


def names_viewing(question_ids: Iterable[int], *, besides: int | None) -> dict[int, list[str]]:
    """The names of the others (everyone but user `besides`) viewing each question."""
    viewing = viewers_by_question(question_ids)
    for users in viewing.values():
        if besides in users:
            users.remove(besides)
    names = display_names({u for users in viewing.values() for u in users})
    return {q: [names[u] for u in users if u in names] for q, users in viewing.items()
            if any(u in names for u in users)}
