import re

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from panel.api.filters import DocumentedParameters


def _whole_number(raw: str, low: int, high: int) -> int | None:
    return int(raw) if re.fullmatch(r"[0-9]{1,9}", raw) and low <= int(raw) <= high else None


class PanelPagination(DocumentedParameters, PageNumberPagination):
    """`?page=` and `?page_size=` (1 to 500); anything else is a 400, not the default page."""

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
