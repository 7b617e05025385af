"""ISPsystem's list parameters: `where`, `orderby` and `limit`, turned into a queryset.

Billing modules send e.g. ``where=(owner_email IS null) AND is_new EQ false``,
``orderby=configuration asc`` and ``limit=0,400``. Each list names the fields it filters and
sorts on (`Field`); anything else, and any syntax error, is a 400 that says what was wrong,
never a list filtered differently from what was asked.
"""

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError

from inventory.addresses import normalise_mac

COMPARISONS = {"EQ": "exact", "NE": "exact", "GT": "gt", "GE": "gte", "LT": "lt", "LE": "lte"}
PATTERN = "CP"  # contains pattern: SQL LIKE with % and _
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MOST_TOKENS = 400
MOST_DEPTH = 32  # nested parentheses and NOTs
TOKEN = re.compile(
    r"""\s*(?:
        (?P<open>\() | (?P<close>\)) |
        '(?P<quoted>(?:[^'\\]|\\.)*)' |
        (?P<word>[A-Za-z_][A-Za-z0-9_.]*) |
        (?P<number>-?[0-9]+(?:\.[0-9]+)?)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Field:
    """A field a list filters and sorts on: its ORM path and how its values read."""

    path: str
    kind: str = "text"  # text, number, bool, ip, mac, or choice (with `choices`)
    choices: tuple[str, ...] = ()
    # For a computed value (e.g. a state): what annotates it, applied only when it is used.
    annotate: Callable[[QuerySet], QuerySet] | None = None
    # Many values per row (e.g. a server's addresses): matching rows are then taken once.
    many: bool = False
    sortable: bool = True


def _refuse(param: str, message: str):
    raise ValidationError({param: [message]})


def _tokens(text: str) -> list[tuple[str, str]]:
    if CONTROL.search(text):
        _refuse("where", "The condition has a control character (such as NUL).")
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            _refuse("where", f"Cannot read the condition from {text[position:][:30]!r} on.")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "quoted":
            value = re.sub(r"\\(.)", r"\1", value)
        tokens.append((kind, value))
        position = match.end()
        if len(tokens) > MOST_TOKENS:
            _refuse("where", f"The condition is longer than {MOST_TOKENS} words and values.")
    return tokens


class _Parser:
    """where := or; or := and (OR and)*; and := not (AND not)*; not := NOT not | atom;
    atom := ( or ) | field OP value | field IS [NOT] null."""

    def __init__(self, text: str, fields: dict[str, Field]):
        self.tokens = _tokens(text)
        self.at = 0
        self.fields = fields
        self.used: set[str] = set()
        self.depth = 0

    def _deeper(self) -> None:
        self.depth += 1
        if self.depth > MOST_DEPTH:
            _refuse("where", f"The condition nests deeper than {MOST_DEPTH} levels.")

    def parse(self) -> Q:
        if not self.tokens:
            _refuse("where", "Give a condition, e.g. owner_email EQ 'customer@example.com'.")
        condition = self._or()
        if self.at < len(self.tokens):
            _refuse("where", f"Unexpected {self.tokens[self.at][1]!r} after a whole condition.")
        return condition

    def _peek_word(self) -> str:
        kind, value = self.tokens[self.at] if self.at < len(self.tokens) else ("", "")
        return value.upper() if kind == "word" else ""

    def _next(self, expected: str) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            _refuse("where", f"The condition ends where {expected} was expected.")
        token = self.tokens[self.at]
        self.at += 1
        return token

    def _or(self) -> Q:
        condition = self._and()
        while self._peek_word() == "OR":
            self.at += 1
            condition |= self._and()
        return condition

    def _and(self) -> Q:
        condition = self._not()
        while self._peek_word() == "AND":
            self.at += 1
            condition &= self._not()
        return condition

    def _not(self) -> Q:
        if self._peek_word() == "NOT":
            self.at += 1
            self._deeper()
            condition = ~self._not()
            self.depth -= 1
            return condition
        return self._atom()

    def _atom(self) -> Q:
        kind, value = self._next("a field or (")
        if kind == "open":
            self._deeper()
            condition = self._or()
            if self._next(")")[0] != "close":
                _refuse("where", "A ( is not closed.")
            self.depth -= 1
            return condition
        if kind != "word":
            _refuse("where", f"Expected a field name, found {value!r}.")
        field = self.fields.get(value)
        if field is None:
            _refuse("where", f"Cannot filter on {value!r}; choose from {', '.join(self.fields)}.")
        self.used.add(value)
        operator = self._next("EQ, NE, GT, GE, LT, LE, CP or IS")[1].upper()
        if operator == "IS":
            negate = self._peek_word() == "NOT"
            self.at += negate
            if self._next("null")[1].lower() != "null":
                _refuse("where", "IS takes null or NOT null.")
            condition = Q(**{f"{field.path}__isnull": True})
            return ~condition if negate else condition
        if operator not in COMPARISONS and operator != PATTERN:
            _refuse(
                "where", f"Unknown comparison {operator!r}: use EQ, NE, GT, GE, LT, LE, CP, IS."
            )
        raw_kind, raw = self._next("a value")
        if raw_kind not in ("quoted", "word", "number"):
            _refuse("where", f"Expected a value after {value} {operator}.")
        if raw_kind == "word" and raw.lower() == "null":
            condition = Q(**{f"{field.path}__isnull": True})
            return ~condition if operator == "NE" else condition
        if operator == PATTERN:
            if field.kind not in ("text", "choice", "ip"):
                _refuse("where", f"CP matches text; compare {value} with EQ, NE, GT or LT.")
            return _like(field.path, raw)
        lookup = COMPARISONS[operator]
        condition = Q(**{f"{field.path}__{lookup}": _value(value, field, raw)})
        return ~condition if operator == "NE" else condition


def _like(path: str, pattern: str) -> Q:
    """CP 'text%': SQL LIKE, case-insensitive, % for any text and _ for one character. The
    common shapes use the lookups indexes serve; the rest a regular expression."""
    inner = pattern.strip("%")
    if "%" not in inner and "_" not in inner:
        starts, ends = pattern.startswith("%"), pattern.endswith("%")
        lookup = {
            (False, False): "iexact",
            (False, True): "istartswith",
            (True, False): "iendswith",
            (True, True): "icontains",
        }[starts, ends]
        return Q(**{f"{path}__{lookup}": inner})
    regex = "".join(
        ".*" if char == "%" else "." if char == "_" else re.escape(char) for char in pattern
    )
    return Q(**{f"{path}__iregex": f"^{regex}$"})


def _value(name: str, field: Field, raw: str):
    if field.kind == "number":
        if not re.fullmatch(r"-?[0-9]{1,18}", raw):
            _refuse("where", f"{name} takes a whole number, not {raw!r}.")
        return int(raw)
    if field.kind == "bool":
        choice = {"true": True, "false": False, "on": True, "off": False}.get(raw.lower())
        if choice is None:
            _refuse("where", f"{name} takes true or false, not {raw!r}.")
        return choice
    if field.kind == "ip":
        try:
            return str(ipaddress.ip_address(raw))
        except ValueError:
            _refuse("where", f"{name} takes an IP address, not {raw!r}.")
    if field.kind == "mac":
        try:
            return normalise_mac(raw)
        except DjangoValidationError:
            _refuse("where", f"{name} takes a MAC address, not {raw!r}.")
    if field.kind == "choice" and raw not in field.choices:
        _refuse("where", f"{name} takes one of {', '.join(field.choices)}, not {raw!r}.")
    return raw


def _ordering(text: str, fields: dict[str, Field]) -> tuple[list[str], set[str]]:
    terms, used = [], set()
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2:
            _refuse("orderby", "Give a field and asc or desc, e.g. name asc.")
        name, direction = words[0], (words[1].lower() if len(words) == 2 else "asc")
        field = fields.get(name)
        if field is None or not field.sortable:
            sortable = ", ".join(key for key, value in fields.items() if value.sortable)
            _refuse("orderby", f"Cannot sort by {name!r}; choose from {sortable}.")
        if direction not in ("asc", "desc"):
            _refuse("orderby", f"Sort {name} asc or desc, not {direction!r}.")
        used.add(name)
        terms.append(("-" if direction == "desc" else "") + field.path)
    return terms, used


def _limit(text: str, most: int) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(?:([0-9]{1,9})\s*,\s*)?([0-9]{1,9})\s*", text)
    if match is None:
        _refuse("limit", "Give offset,count (e.g. 0,100) or a count.")
    offset, count = int(match.group(1) or 0), int(match.group(2))
    if not 1 <= count <= most:
        _refuse("limit", f"Ask for 1 to {most} rows at a time.")
    return offset, count


@dataclass
class Page:
    rows: list
    size: int  # every row the condition matches, whatever the limit


def select(
    queryset: QuerySet, params, fields: dict[str, Field], *, default_order: list[str], most: int
) -> Page:
    """Apply `where`, `orderby` and `limit` from `params` to `queryset`.

    Without a limit a list answers every row up to `most`; beyond that it asks for a limit
    rather than cutting the list short."""
    repeated = sorted(
        name for name in ("where", "orderby", "limit") if len(params.getlist(name)) > 1
    )
    if repeated:
        raise ValidationError({name: ["Give this parameter once."] for name in repeated})
    used: set[str] = set()
    condition = Q()
    if "where" in params:
        parser = _Parser(params["where"], fields)
        condition = parser.parse()
        used |= parser.used
    order = default_order
    if "orderby" in params:
        order, sorted_by = _ordering(params["orderby"], fields)
        used |= sorted_by
        order = [*order, "pk"]
    for annotate in {fields[name].annotate for name in used} - {None}:
        queryset = annotate(queryset)
    if any(fields[name].many for name in used):
        queryset = queryset.filter(pk__in=queryset.filter(condition).values("pk"))
    else:
        queryset = queryset.filter(condition)
    queryset = queryset.order_by(*order)
    size = queryset.count()
    if "limit" in params:
        offset, count = _limit(params["limit"], most)
    elif size > most:
        _refuse("limit", f"{size} rows match; page them with limit=offset,count (up to {most}).")
    else:
        offset, count = 0, most
    return Page(rows=list(queryset[offset : offset + count]), size=size)
