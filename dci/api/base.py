"""The bases of every DCImanager-compatible endpoint.

`DciView` authenticates by DCI session (`ses6` cookie / `x-xsrf-token`, dci.authentication)
or by panel API token, applies the API's default permissions (signed in; a read-only token
only reads), honours Idempotency-Key on POSTs like /api/v1/, answers JSON, puts every error
in the DCI envelope (dci.errors), and refuses query parameters it does not declare in
`query_parameters`: a caller's typo is a 400, never a silently different answer.

`DciPublicView` is the same without authentication and idempotency, for the login alone.
"""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from dci import errors
from dci.api.parsers import AnyTypeJSONParser
from dci.authentication import DciSessionAuthentication
from panel.api.authentication import ApiTokenAuthentication
from panel.api.idempotency import IdempotentWritesMixin

TAG = "DCImanager v3 compatible"


@extend_schema(tags=[TAG])
class DciPublicView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    parser_classes = [AnyTypeJSONParser]
    # The query parameters this view reads; any other is refused.
    query_parameters: set[str] | frozenset[str] = frozenset()

    def get_exception_handler(self):
        return errors.exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        unknown = sorted(set(request.query_params) - set(self.query_parameters))
        if unknown:
            raise ValidationError({name: ["Unknown query parameter."] for name in unknown})

    def payload(self, serializer_class) -> dict:
        """The body, checked by `serializer_class` (strict: unknown fields are refused)."""
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class DciView(IdempotentWritesMixin, DciPublicView):
    # A token in Authorization is asked first: a stale ses6 cookie beside it is no refusal.
    authentication_classes = [ApiTokenAuthentication, DciSessionAuthentication]

    def get_authenticate_header(self, request):
        """A 401 names the DCI session (ses6) as the way in, as ISPsystem's clients expect."""
        return DciSessionAuthentication().authenticate_header(request)

    permission_classes = api_settings.DEFAULT_PERMISSION_CLASSES
