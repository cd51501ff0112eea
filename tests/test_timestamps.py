"""Microsecond timestamps and RFC 3339 parsing (watchtime.timestamps)."""

from datetime import UTC, datetime

import pytest

from watchtime.timestamps import from_us, parse_rfc3339, to_us

pytestmark = pytest.mark.unit  # no services, no processes


def test_rfc3339_variants():
    assert parse_rfc3339("2026-06-01T12:00:00.123456789+02:00") == datetime(2026, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert parse_rfc3339("2026-06-01t12:00:00z") == datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert parse_rfc3339("2026-13-01T12:00:00Z") is None


def test_microseconds_since_the_epoch_both_ways():
    moment = datetime(2026, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert to_us(moment) == 1_780_308_000_123_456
    assert from_us(to_us(moment)) == moment and from_us(None) is None
