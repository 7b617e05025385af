import re

from django.core.paginator import Paginator
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination

from panel.api.filters import DocumentedParameters


def _whole_number(raw: str, low: int, high: int) -> int | None:
    return int(raw) if re.fullmatch(r"[0-9]{1,9}", raw) and low <= int(raw) <= high else None


class DeferredJoinPaginator(Paginator):
    """A page past the first reads its ids first (OFFSET walks only the ordering's index),
    then its rows and their relations by id: the rows skipped are never read or joined
    (page 500 of 100,000 servers: 139 ms -> see README's Scale)."""

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        rows = self.object_list
        if bottom and isinstance(rows, QuerySet):
            ids = list(rows.values_list("pk", flat=True)[bottom:top])
            return self._get_page(list(rows.filter(pk__in=ids)), number, self)
        return self._get_page(rows[bottom:top], number, self)


class PanelPagination(DocumentedParameters, PageNumberPagination):
    """`?page=` and `?page_size=` (1 to 500); anything else is a 400, not the default page."""

    django_paginator_class = DeferredJoinPaginator
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param, "")
        if not raw:
            return self.page_size
        size = _whole_number(raw, 1, self.max_page_size)
        if size is None:
            message = f"Enter a whole number from 1 to {self.max_page_size}."
            raise ValidationError({self.page_size_query_param: [message]})
        return size

    def get_page_number(self, request, paginator):
        number = super().get_page_number(request, paginator)
        if _whole_number(str(number), 1, 10**9) is None:
            raise ValidationError({self.page_query_param: ["Enter a whole number from 1."]})
        return number


class _IdCursor(CursorPagination):
    """DRF's cursor pages on an id ordering; a cursor it cannot read is a 400, not a 404."""

    page_size_query_param = "page_size"
    max_page_size = PanelPagination.max_page_size
    invalid_cursor_message = "This cursor is not one this list gave out: start again without it."

    def get_page_size(self, request):
        return PanelPagination().get_page_size(request)

    def get_ordering(self, request, queryset, view):
        return (view.cursor_ordering,)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from exc
        if cursor.position is not None and _whole_number(cursor.position, 0, 10**18) is None:
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})
        return cursor


class PageOrCursorPagination(PanelPagination):
    """`?page=` for people, or `?cursor=` for a sync client: pages in the order of
    `view.cursor_ordering` (an id: set once, unique), each answer's `next` link gives the
    following page, no count, and no deep page costs more than the first. Start with an empty
    `?cursor=`. A cursor does not combine with `?page=` or `?ordering=`."""

    cursor_query_param = "cursor"

    def _cursor(self, request) -> bool:
        if self.cursor_query_param not in request.query_params:
            return False
        clash = {self.page_query_param, "ordering"} & set(request.query_params)
        if clash:
            message = f"A cursor page has its own order and position; drop {', '.join(clash)}."
            raise ValidationError({self.cursor_query_param: [message]})
        return True

    def paginate_queryset(self, queryset, request, view=None):
        self.cursor = _IdCursor() if self._cursor(request) else None
        if self.cursor is None:
            return super().paginate_queryset(queryset, request, view)
        return self.cursor.paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if self.cursor is None:
            return super().get_paginated_response(data)
        return self.cursor.get_paginated_response(data)

    def get_paginated_response_schema(self, schema):
        """As a page's, but `count` only on `?page=` answers (a cursor answer has none)."""
        page = super().get_paginated_response_schema(schema)
        return {**page, "required": ["results"]}

    def get_schema_operation_parameters(self, view):
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "For sync clients, instead of page: empty for the first page, "
                "then the cursor in the previous answer's `next` link. Pages follow ids "
                f"({view.cursor_ordering}); an answer has next, previous and results, no "
                "count. An unknown cursor is a 400.",
                "schema": {"type": "string"},
            },
        ]
