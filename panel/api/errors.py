"""One mapping from domain errors to HTTP answers."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from panel.exceptions import Conflict, NotAllowed, PanelError

STATUS_BY_ERROR = {Conflict: status.HTTP_409_CONFLICT, NotAllowed: status.HTTP_403_FORBIDDEN}


def exception_handler(exc, context):
    if isinstance(exc, PanelError):
        code = next(
            (code for cls, code in STATUS_BY_ERROR.items() if isinstance(exc, cls)),
            status.HTTP_400_BAD_REQUEST,
        )
        return Response({"detail": exc.message, **exc.context}, status=code)
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        # Some of DRF's own checks (search terms) raise bare lists; every error is an object.
        response.data = {"non_field_errors": response.data}
    return response


def _api_or_html(request, code: int, message: str, html_view, **html_kwargs):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=code)
    return html_view(request, **html_kwargs)


def not_found(request, exception):
    """404 for a URL that matches no route: JSON under /api/, the HTML page elsewhere."""
    return _api_or_html(request, 404, "Not found.", defaults.page_not_found, exception=exception)


def server_error(request):
    return _api_or_html(request, 500, "Server error.", defaults.server_error)
