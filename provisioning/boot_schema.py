"""The machines' boot endpoints in the served OpenAPI schema (tag `boot`, no security).

They are plain Django views (iPXE and installers speak text and form posts, not the REST
API), so drf-spectacular cannot see them; this post-processing hook describes them, for the
docs and for schemathesis. tests/provisioning/test_boot_network.py keeps it matching the URLs.
"""

TEXT = "text/plain"
SECRET = {
    "name": "secret",
    "in": "path",
    "required": True,
    "description": "The ticket's secret, from the boot script.",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,100}$"},
}
MAC = {
    "name": "mac",
    "in": "query",
    "required": False,
    "description": "The PXE NIC's MAC (iPXE's ${net0/mac}).",
    "schema": {"type": "string"},
}
REFUSED = {
    "description": "Unknown, expired or used ticket; or refused: the request is not from a boot "
    "network, or not from the address the install is bound to (audited as boot.refused).",
    "content": {TEXT: {"schema": {"type": "string"}}},
}
BOUNDARY = (
    "Answers only requests from a boot network (IPAM networks flagged `boot` and "
    "PANEL_BOOT_ALLOWED_CIDRS); each install answers only the one address it is bound to."
)


def _event(facts: dict) -> dict:
    return {
        "type": "object",
        "required": ["event"],
        "properties": {
            "event": {"type": "string", "enum": ["progress", "log", "facts", "done", "failed"]},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "message": {"type": "string", "maxLength": 2000},
            "facts": facts,
        },
    }


def _json(description: str, **properties) -> dict:
    schema = {"type": "object", "properties": properties}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _text_get(operation_id, summary, answer, *, parameters=(SECRET,), description=BOUNDARY):
    return {
        "get": {
            "operationId": operation_id,
            "tags": ["boot"],
            "security": [],
            "summary": summary,
            "description": description,
            "parameters": list(parameters),
            "responses": {
                "200": {"description": answer, "content": {TEXT: {"schema": {"type": "string"}}}},
                "404": REFUSED,
            },
        }
    }


STATE = {"type": "string"}
DETAIL = {"type": "string"}
PATHS = {
    "/boot/ipxe": _text_get(
        "boot_ipxe_script",
        "The iPXE script for a machine: its installer, or its local disk",
        "An iPXE script",
        parameters=[MAC],
        description=BOUNDARY + " Another address asking for a bound install's MAC gets the "
        "local-disk script, and the install is not disturbed.",
    ),
    "/boot/config/{secret}": _text_get(
        "boot_installer_config", "The installer's config, once", "The rendered config"
    ),
    "/boot/config/{secret}/user-data": _text_get(
        "boot_user_data", "cloud-init's user-data (the installer config), once", "user-data"
    ),
    "/boot/config/{secret}/meta-data": _text_get(
        "boot_meta_data", "cloud-init's meta-data", "meta-data"
    ),
    "/boot/images/{name}": {
        "get": {
            "operationId": "boot_agent_image_file",
            "tags": ["boot"],
            "security": [],
            "summary": "The agent image's kernel (vmlinuz) or initramfs (initrd.gz)",
            "description": "Answers only requests from a boot network (IPAM networks flagged "
            "`boot` and PANEL_BOOT_ALLOWED_CIDRS). Built by `manage.py build_agent_image`.",
            "parameters": [
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": ["vmlinuz", "initrd.gz"]},
                }
            ],
            "responses": {
                "200": {
                    "description": "The file",
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                "404": {
                    "description": "Not built yet, another name, or not from a boot network",
                    "content": {TEXT: {"schema": {"type": "string"}}},
                },
            },
        }
    },
    "/boot/disks/{secret}/{disk}/{index}": {
        method: {
            "operationId": f"boot_disk_piece_{method}",
            "tags": ["boot"],
            "security": [],
            "summary": summary,
            "description": BOUNDARY + " Only while the ticket's capture or restore runs.",
            "parameters": [
                SECRET,
                {"name": "disk", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "index", "in": "path", "required": True, "schema": {"type": "integer"}},
                *extra_parameters,
            ],
            **body,
            "responses": responses,
        }
        for method, summary, extra_parameters, body, responses in (
            (
                "get",
                "A piece of the image a restore writes (gzip)",
                (),
                {},
                {
                    "200": {
                        "description": "The gzipped piece",
                        "content": {
                            "application/gzip": {"schema": {"type": "string", "format": "binary"}}
                        },
                    },
                    "404": REFUSED,
                },
            ),
            (
                "post",
                "A piece of a disk a capture sends: base64 of the gzip of at most "
                "PANEL_IMAGE_PIECE_MIB MiB",
                (
                    {
                        "name": "X-Piece-SHA256",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ),
                {
                    "requestBody": {
                        "required": True,
                        "content": {TEXT: {"schema": {"type": "string", "format": "byte"}}},
                    }
                },
                {
                    "201": _json("Kept", disk=STATE, index={"type": "integer"}),
                    "400": _json("Not gzip, too large inflated, or not its SHA-256", detail=DETAIL),
                    "404": REFUSED,
                    "409": _json("Written twice at once", detail=DETAIL),
                    "413": _json("Too large, or over the owner's quota", detail=DETAIL),
                },
            ),
        )
    },
    "/boot/events/{secret}": {
        "post": {
            "operationId": "boot_installer_event",
            "tags": ["boot"],
            "security": [],
            "summary": "A report from the installer: progress, log, facts, done or failed",
            "description": BOUNDARY + " done and failed are always taken once, however many "
            "reports came before (PANEL_BOOT_EVENTS_PER_TICKET bounds the others).",
            "parameters": [SECRET],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _event({"type": "object"})},
                    "application/x-www-form-urlencoded": {
                        "schema": _event({"type": "string", "description": "A JSON object"})
                    },
                },
            },
            "responses": {
                "200": _json("A retried final report", state=STATE),
                "202": _json("Recorded", state=STATE),
                "400": _json("Invalid report", errors={"type": "object"}, detail=DETAIL),
                "404": REFUSED,
                "409": _json("The installation has already ended", detail=DETAIL),
                "429": _json("Too many reports for this ticket", detail=DETAIL),
            },
        }
    },
}


def add_boot_endpoints(result, generator, request, public):
    result.setdefault("paths", {}).update(PATHS)
    return result
