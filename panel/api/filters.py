"""Query parameters of lists, strict: an unknown parameter or value is a 400, never a list
filtered differently from what the caller asked for."""

from django import forms
from django.db import models
from django_filters import rest_framework as filters
from rest_framework import filters as drf_filters
from rest_framework.exceptions import ValidationError


class DocumentedParameters:
    """A backend reads exactly the query parameters it documents in the schema."""

    def query_parameters(self, view) -> set[str]:
        return {parameter["name"] for parameter in self.get_schema_operation_parameters(view)}


class SearchFilter(DocumentedParameters, drf_filters.SearchFilter):
    """`?search=` where the view names fields to search, and only there. A view with its own
    `search_queryset(queryset, term)` (and `search_help`) searches its way, e.g. by index."""

    def filter_queryset(self, request, queryset, view):
        search = getattr(view, "search_queryset", None)
        if search is None:
            return super().filter_queryset(request, queryset, view)
        term = request.query_params.get(self.search_param, "").strip()
        return search(queryset, term) if term else queryset

    def get_schema_operation_parameters(self, view):
        searchable = getattr(view, "search_fields", None)
        parameters = super().get_schema_operation_parameters(view) if searchable else []
        if hasattr(view, "search_help"):
            for parameter in parameters:
                parameter["description"] = view.search_help
        return parameters


class OrderingFilter(DocumentedParameters, drf_filters.OrderingFilter):
    def remove_invalid_fields(self, queryset, fields, view, request):
        valid = [name for name, _ in self.get_valid_fields(queryset, view, {"request": request})]
        unknown = [term for term in fields if term.removeprefix("-") not in valid]
        if unknown:
            raise ValidationError(
                {
                    self.ordering_param: [
                        f"Cannot order by {', '.join(map(repr, unknown))}; choose from "
                        f"{', '.join(valid)} (a leading - sorts descending)."
                    ]
                }
            )
        return fields


class _BooleanField(forms.NullBooleanField):
    def to_python(self, value):
        if value in (None, ""):
            return None
        choice = {"true": True, "1": True, "false": False, "0": False}.get(str(value).lower())
        if choice is None:
            raise forms.ValidationError("Enter true or false.", code="invalid")
        return choice


class BooleanFilter(filters.BooleanFilter):
    """true/false (or 1/0); anything else is a 400, not an unfiltered list."""

    field_class = _BooleanField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.TextInput)  # the raw value reaches the field
        super().__init__(*args, **kwargs)


class UpdatedSinceFilter(filters.IsoDateTimeFilter):
    """`?updated_since=<ISO 8601 time>`: what changed at or after it, for incremental sync.
    Each list says in its help text what counts as a change."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("field_name", "updated_at")
        kwargs.setdefault("lookup_expr", "gte")
        super().__init__(*args, **kwargs)


class PanelFilterSet(filters.FilterSet):
    """Base of every filter set of the API."""

    FILTER_DEFAULTS = {
        **filters.FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": BooleanFilter},
    }


class FilterBackend(filters.DjangoFilterBackend):
    filterset_base = PanelFilterSet

    def query_parameters(self, view) -> set[str]:
        filterset_class = self.get_filterset_class(view, view.get_queryset())
        return set(filterset_class.base_filters) if filterset_class else set()
