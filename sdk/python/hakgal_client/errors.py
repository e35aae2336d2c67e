"""Errors of the client: HakgalError for an error answer of the server
(status, the server's code and message, detail), TransportError (a
subclass, status 0) when no answer came."""
from __future__ import annotations

from typing import Any


class HakgalError(Exception):
    """An error answer: {"error": {"code", "message", "detail"}}."""

    def __init__(self, status: int, code: str, message: str,
                 detail: Any = None) -> None:
        super().__init__("%s (%s): %s" % (code, status, message))
        self.status = status    # HTTP status; 0 when no answer came
        self.code = code        # e.g. "not_found", "invalid_statement"
        self.message = message  # the server's human-readable message
        self.detail = detail    # e.g. {"column": 12, "field": "statement"}


class TransportError(HakgalError):
    """No answer: connection refused or reset ("connection"), no answer
    within the timeout ("timeout"), an answer that is not JSON
    ("invalid_answer")."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(0, code, message, None)
