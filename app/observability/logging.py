"""Structured logs: one JSON object per line on stderr, with the request id (and
job, business date) of the work in progress, ID numbers masked.

``configure_logging`` is called by the app factory and the ``loans`` command;
it replaces uvicorn's handlers so that the server's own lines are JSON too, and
turns off uvicorn's access log (``app.access`` logs every request instead,
with its route, status, duration and request id).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from app.observability import context
from app.privacy.masking import redact_id_numbers


class ContextJsonFormatter(JsonFormatter):
    """JSON lines with ``timestamp``, ``level``, ``logger``, ``message``, the
    context (``request_id``, ``job``, ``business_date``) and any ``extra``."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        for name, value in context.current().items():
            log_data.setdefault(name, value)

    def format(self, record: logging.LogRecord) -> str:
        # Defence in depth: code never logs a full ID number, but an exception's
        # text (a database error quoting its parameters) might carry one.
        return redact_id_numbers(super().format(record))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={v}" for k, v in context.current().items())
        return redact_id_numbers(f"{super().format(record)} {ids}".rstrip())


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(*, log_format: str = "json", level: str = "INFO") -> None:
    """Route every log record to one stderr handler (idempotent)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(ContextJsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
