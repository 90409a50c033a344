"""The RFC 822 timestamps of REST headers (S3's Last-Modified, Expires) are
written directly: the same text as `email.utils.format_datetime`."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

from strongroom.protocol.values import as_utc, rfc822


def test_rfc822_writes_what_the_email_module_writes() -> None:
    rng = random.Random(7)
    values: list[object] = [0, 1e9, 1733600000.7, 86399.999, 253402300799]
    values += [rng.uniform(0, 4e9) for _ in range(2000)]
    values += [
        datetime(2024, 2, 29, 3, 4, 5, 999999),
        datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2025, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))),
    ]
    for value in values:
        expected = format_datetime(as_utc(value).replace(microsecond=0), usegmt=True)
        assert rfc822(value) == expected, value
