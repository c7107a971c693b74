"""Errors the engine raises; the web layer maps each to a status code and a message."""
from __future__ import annotations


def N_(message: str) -> str:
    """Marks a message for the translation catalogue; the web layer translates it when shown."""
    return message


class EngineError(Exception):
    """Base class. ``message`` is safe to show to the person who acted."""

    code = "engine_error"

    def __init__(self, message: str, **details) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(EngineError):
    """The thing does not exist, or the actor may not see it (indistinguishable on purpose)."""

    code = "not_found"


class Forbidden(EngineError):
    code = "forbidden"


class CaseConflict(EngineError):
    """Someone else changed the case since the actor loaded it."""

    code = "conflict"


class InvalidInput(EngineError):
    """Field-level validation errors: ``errors`` maps field names to messages."""

    code = "invalid"

    def __init__(self, message: str, errors: dict[str, list[str]]) -> None:
        super().__init__(message, errors=errors)
        self.errors = errors


class DeploymentError(EngineError):
    """A diagram that cannot be deployed; ``problems`` lists why."""

    code = "bad_diagram"

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message, problems=problems)
        self.problems = problems


class HandlerFailed(EngineError):
    """A service-task handler raised; the command is rolled back."""

    code = "handler_failed"
