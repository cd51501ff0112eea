"""Log lines: Django's ERROR for a 503 (an outage, logged where it was met) is left out, a 500 is not."""

import logging

import pytest

from watchtime.jsonlog import DropServiceUnavailable

pytestmark = pytest.mark.unit  # no services, no processes


def record(status: int) -> logging.LogRecord:
    return logging.makeLogRecord({"name": "django.request", "levelno": logging.ERROR, "msg": "x", "status_code": status})


def test_a_503_is_left_out_and_a_500_kept():
    keep = DropServiceUnavailable().filter
    assert keep(record(503)) is False
    assert keep(record(500)) is True
    assert keep(logging.makeLogRecord({"msg": "no status"})) is True
