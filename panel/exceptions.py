"""Errors a user can cause. Mapped once to HTTP codes (panel.api.errors) and form errors."""


class PanelError(Exception):
    """Base of the domain errors; `message` is meant for a person."""

    def __init__(self, message: str, **context):
        super().__init__(message)
        self.message = message
        self.context = context


class Conflict(PanelError):
    """The request clashes with the current state (409)."""


class NotAllowed(PanelError):
    """The actor may not do this (403)."""


class PoolExhausted(Conflict):
    """No free address is left where one was asked for (409)."""


def error_text(error: Exception, *, name_fields: bool = False) -> str:
    """One line a person can read for a refusal: a domain error or a ValidationError (whose
    fields are named when `name_fields`, e.g. in a per-row import report)."""
    if isinstance(error, PanelError):
        return error.message
    if not hasattr(error, "error_dict"):
        return " ".join(error.messages)
    return "; ".join(
        f"{name}: {' '.join(messages)}" if name_fields else " ".join(messages)
        for name, messages in error.message_dict.items()
    )
