"""OpenAPI: the Idempotency-Key header of POSTs and DELETEs, and the error answers every
operation can give.

Security schemes come from the authentication classes (drf-spectacular names the token scheme
`tokenAuth`), so each operation lists each scheme once.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

from panel.api.idempotency import HEADER, IDEMPOTENT_METHODS, MAX_KEY_LENGTH, IdempotentWritesMixin

IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    OpenApiParameter.HEADER,
    description="Retry safely: the same key and request within 24 hours get the first answer "
    "again (marked Idempotent-Replayed: true) without acting twice.",
)

ERROR_SCHEMA = {
    "type": "object",
    "description": '{"detail": "..."} or, for 400, field names mapped to lists of messages.',
    "additionalProperties": True,
}
ERRORS = {
    "400": "Invalid input (field errors)",
    "401": "Not authenticated",
    "403": "Not allowed",
    "404": "Not found (or not yours)",
    "409": "Conflicts with the current state",
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                )
    return result


class PanelAutoSchema(AutoSchema):
    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self.method in IDEMPOTENT_METHODS and isinstance(self.view, IdempotentWritesMixin):
            return [*parameters, IDEMPOTENCY_KEY]
        return parameters
