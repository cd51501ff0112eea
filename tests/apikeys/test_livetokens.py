"""The live counter's tokens (apikeys.livetokens): what a signature binds, expiry, and the TTL syntax."""

import pytest

from watchtime.apikeys import livetokens

pytestmark = pytest.mark.unit  # pure: no database, no processes

KEY = "k" * 32
NOW = 1_800_000_000


def test_a_token_grants_its_movie_until_it_expires():
    token = livetokens.sign(movie_id=42, expires=NOW + 60, key=KEY)
    assert token.startswith("wtl_42_")
    assert livetokens.verified(token, now=NOW, key=KEY) == livetokens.LiveToken(42, NOW + 60)
    assert livetokens.verified(token, now=NOW + 59, key=KEY) is not None
    assert livetokens.verified(token, now=NOW + 60, key=KEY) is None


@pytest.mark.parametrize("change", ["movie", "expiry", "signature", "key"])
def test_the_signature_binds_movie_expiry_and_key(change):
    token = livetokens.sign(movie_id=42, expires=NOW + 60, key=KEY)
    _, movie, expires, signature = token.split("_", 3)
    forged = {
        "movie": f"wtl_43_{expires}_{signature}",
        "expiry": f"wtl_{movie}_{NOW + 10**6}_{signature}",
        "signature": f"wtl_{movie}_{expires}_{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        "key": token,
    }[change]
    assert livetokens.verified(forged, now=NOW, key="other" if change == "key" else KEY) is None


@pytest.mark.parametrize("text", ["", "wtl", "wtl_42_1", "wt_abc_def", "wtl_-1_1_" + "a" * 43, "wtl_1_1_" + "a" * 44,
                                  "wtl_1_1_" + "a" * 42 + "=", " wtl_1_1_" + "a" * 43])
def test_malformed_tokens_are_refused(text):
    assert livetokens.verified(text, now=NOW, key=KEY) is None


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("12h", 43200), ("30d", 2_592_000)])
def test_ttl(text, seconds):
    assert livetokens.parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "0d", "-1d", "1w", "1.5h", "d"])
def test_bad_ttl(text):
    with pytest.raises(ValueError, match="is not a TTL"):
        livetokens.parse_ttl(text)
