"""JSON bodies, bounded: every API body and every installer report is read here.

A body is at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes, nested at most MAX_DEPTH deep (Python's
parser recurses: 100,000 "[" were a RecursionError), and text: a lone surrogate escape such as
"\\ud800" is no character, so it could be neither stored nor echoed back in an error, and
PostgreSQL stores no NUL ("\\u0000").
"""

import json
import re

from django.conf import settings
from rest_framework import parsers, renderers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidJson(ValueError):
    """A JSON text the panel refuses; the message says why, for a 400."""


def read_json(stream) -> object:
    """Read and parse a JSON body from a file-like object (a request or DRF's stream)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    raw = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(raw) > limit:
        raise InvalidJson(f"The body is larger than {limit} bytes.")
    try:
        return parse_json(raw.decode())
    except UnicodeDecodeError:
        raise InvalidJson("The body is not UTF-8 text.") from None


def parse_json(text: str) -> object:
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:
        raise InvalidJson(f"This is not valid JSON: {exc}.") from None
    _check(value)
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _too_deep() -> InvalidJson:
    return InvalidJson(f"This JSON is nested deeper than {MAX_DEPTH} levels.")


def _check(value: object) -> None:
    """Refuse nesting past MAX_DEPTH and strings that are not Unicode text (keys too)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise InvalidJson(
                    "This JSON is not valid Unicode text: "
                    "it has a lone surrogate (\\ud800 to \\udfff)."
                )
            if "\x00" in item:
                raise InvalidJson("This JSON has a NUL character (\\u0000), which is never stored.")
            continue
        if isinstance(item, dict):
            children = [*item, *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise _too_deep()
        pending.extend((child, depth + 1) for child in children)


class JSONParser(parsers.BaseParser):
    """The API's only parser. Not a subclass of DRF's: DRF would read such a parser's body
    itself, refusing an oversized one with Django's HTML 400 instead of this JSON one."""

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return read_json(stream)
        except InvalidJson as exc:
            raise ParseError(str(exc)) from exc
