"""The DCImanager error envelope: every error of the DCI API answers
`{"error": {"code": <HTTP status>, "msg": "<a sentence>", "value": <field errors or null>}}`,
which ISPsystem's billing modules read.

`exception_handler` keeps panel's one mapping of errors to statuses (panel.api.errors) and
only re-shapes its answer, so a domain error has the same status on both APIs.
"""

from django.http import JsonResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.response import Response

from panel.api import errors as panel_errors
from panel.api.schema import ERRORS


def error_response(status: int, msg: str, value=None) -> Response:
    return Response({"error": {"code": status, "msg": msg, "value": value}}, status=status)


# Where ISPsystem's clients call; a URL there that matches no view still answers in the envelope.
PREFIXES = ("/api/dci/", "/api/ip/", "/api/auth/v4/")


def _in_envelope(request) -> bool:
    return request.path.startswith(PREFIXES)


def not_found(request, exception):
    """The 404 of a URL no route matches (e.g. /api/dci/v3/server/abc): the envelope under
    DCImanager's paths, panel's answer elsewhere."""
    if _in_envelope(request):
        return _plain(404, "Not found.")
    return panel_errors.not_found(request, exception)


def forbidden(request, msg: str) -> JsonResponse:
    """A 403 decided outside DRF (a middleware): the envelope under DCImanager's paths, DRF's
    `{"detail": ...}` elsewhere."""
    if _in_envelope(request):
        return _plain(403, msg)
    return JsonResponse({"detail": msg}, status=403)


def server_error(request):
    if _in_envelope(request):
        return _plain(500, "Server error.")
    return panel_errors.server_error(request)


def _plain(status: int, msg: str) -> JsonResponse:
    """The envelope outside DRF (Django's own 404 and 500 handlers)."""
    return JsonResponse({"error": {"code": status, "msg": msg, "value": None}}, status=status)


def exception_handler(exc, context):
    """Panel's exception handler, its answer wrapped in the envelope (headers such as
    Retry-After and WWW-Authenticate kept)."""
    response = panel_errors.exception_handler(exc, context)
    if response is None:
        return None
    msg, value = _message_and_value(response.data)
    response.data = {"error": {"code": response.status_code, "msg": msg, "value": value}}
    return response


def _message_and_value(data: dict) -> tuple[str, dict | None]:
    """`{"detail": ...}` (and a domain error's context) or a dict of field errors."""
    if "detail" in data:
        rest = {name: value for name, value in data.items() if name != "detail"}
        return str(data["detail"]), rest or None
    fields = sorted(name for name in data if name != "non_field_errors")
    if not fields:
        return " ".join(str(message) for message in data["non_field_errors"]), data
    return f"Invalid request: see value ({', '.join(fields)}).", data


class DciErrorBodySerializer(serializers.Serializer):
    code = serializers.IntegerField(help_text="The HTTP status again")
    msg = serializers.CharField(help_text="What went wrong, as a sentence")
    value = serializers.JSONField(
        allow_null=True, help_text="Field names mapped to their errors, or null"
    )


class DciErrorSerializer(serializers.Serializer):
    """For the OpenAPI schema only."""

    error = DciErrorBodySerializer()


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema answers in the envelope, for `extend_schema(responses={...})`; the codes panel's
    schema hook would otherwise document in its own shape (400-409) are always included."""
    always = {int(code): text for code, text in ERRORS.items()}
    descriptions = {**always, 429: "Refused for now; retry later (see Retry-After)"}
    return {
        code: OpenApiResponse(DciErrorSerializer, description=descriptions.get(code, "Error"))
        for code in sorted({*always, *codes})
    }
