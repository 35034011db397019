"""The log filter masks contact details and leaves the ids the logs are made of."""

from __future__ import annotations

import pytest

from psyconsole.logging import scrub


@pytest.mark.parametrize("text", ["call me on 07700 900123", "ring +44 20 7946 0958",
                                  "my number is (555) 123-4567"])
def test_it_masks_phone_numbers(text):
    assert "[phone]" in scrub(text)
    assert not any(ch.isdigit() for ch in scrub(text).split("[phone]")[-1][:1])


def test_it_masks_email_addresses():
    assert scrub("write to sam.smith+x@example.org") == "write to [email]"


@pytest.mark.parametrize("text", [
    "Task draft_question[fd5149d0-98f6-4595-9093-f75513baaf3d] succeeded",
    "Connected to redis://127.0.0.1:6379/5",
    "question #1234 drafted in 10.495697360000122s",
])
def test_it_leaves_task_ids_addresses_and_timings_alone(text):
    assert scrub(text) == text
