"""The one request body parser: strict RFC 8259 JSON."""

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _reject_duplicate_keys(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def parse_strict_json(body: bytes):
    """RFC 8259 JSON only: UTF-8, no duplicate keys, no NaN/Infinity, bounded nesting."""
    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ParseError("The body is not valid UTF-8.") from None
    except RecursionError:
        raise ParseError("The JSON is nested too deeply.") from None
    except ValueError as exc:
        raise ParseError(f"Malformed JSON: {exc}") from None


class StrictJSONParser(JSONParser):
    """DRF's parser for every JSON body, by `parse_strict_json`."""

    def parse(self, stream, media_type=None, parser_context=None):
        return parse_strict_json(stream.read())
