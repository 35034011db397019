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
    # A task id that happens to be all digits, and addresses next to other numbers.
    "Task draft_question[12345678-1234-4234-8234-123456789012] succeeded",
    "10.0.0.1 200 5120",
    "forwarded for 10.0.0.1 10.0.0.2",
    "from 192.168.1.20 - 0.53s",
    "HTTP GET /console/ 200 [0.01, 127.0.0.1:54321]",
    "claim lapses at 2026-12-02 03:12:50.123456",
    "sweep ran on 2026-12-02",
])
def test_it_leaves_task_ids_addresses_and_timings_alone(text):
    assert scrub(text) == text


def test_a_phone_number_next_to_an_address_is_still_masked():
    assert scrub("call 07700 900123 from 10.0.0.1") == "call [phone] from 10.0.0.1"
    assert scrub("10.0.0.1 said +44 20 7946 0958") == "10.0.0.1 said [phone]"


def test_it_masks_tracking_codes_in_urls():
    code = "Zq-8765432109_abcDEF-0123456789x"
    assert scrub(f"Not Found: /track/{code}/") == "Not Found: /track/[code]/"
    assert scrub(f"Conflict: /api/v1/questions/{code}/withdraw") == \
        "Conflict: /api/v1/questions/[code]/withdraw"
    assert scrub("POST /api/v1/console/questions/12/claim") == \
        "POST /api/v1/console/questions/12/claim"
