"""OpenAPI post-processing: document the error answers every operation can give."""

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
