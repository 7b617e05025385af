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
