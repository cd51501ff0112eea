"""Event ids we make: UUIDv7, ordered by their creation time."""

import uuid

from watchtime.ids import uuid7


def test_a_uuid7_is_version_7_of_the_rfc_variant_and_carries_its_millisecond():
    made = uuid7(now_ms=1_765_000_000_123)
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert made.int >> 80 == 1_765_000_000_123


def test_ids_made_later_sort_after_and_ids_of_one_millisecond_differ():
    earlier, later = uuid7(now_ms=1_000), uuid7(now_ms=1_001)
    assert str(earlier) < str(later) and earlier < later
    assert len({uuid7(now_ms=5) for _ in range(1000)}) == 1000
