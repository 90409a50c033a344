"""Lambda's log delivery splits an invocation's output into PutLogEvents
batches within its limits (`services/lambda_/log_delivery._batches`)."""

from __future__ import annotations

from strongroom.services.lambda_.log_delivery import _batches


def test_sorted_and_empty_messages_dropped() -> None:
    (batch,) = _batches([(3, "c\n"), (1, "a\n"), (2, ""), (2, "b\n")])
    assert [(e["timestamp"], e["message"]) for e in batch] == [(1, "a\n"), (2, "b\n"), (3, "c\n")]


def test_at_most_10000_events_a_batch() -> None:
    batches = _batches([(i, "x") for i in range(25_000)])
    assert [len(b) for b in batches] == [10_000, 10_000, 5_000]


def test_at_most_a_megabyte_counting_26_bytes_an_event() -> None:
    big = "y" * (300_000 - 26)
    batches = _batches([(i, big) for i in range(7)])
    assert [len(b) for b in batches] == [3, 3, 1]


def test_no_batch_spans_more_than_24_hours() -> None:
    day = 86_400_000
    batches = _batches([(0, "a"), (day, "b"), (day + 1, "c")])
    assert [[e["message"] for e in b] for b in batches] == [["a", "b"], ["c"]]
