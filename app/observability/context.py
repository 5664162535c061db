"""The request id (and, in a job, the job and its business date) of the work in
progress, carried in context variables so every log line can name them.

A request takes its id from ``X-Request-ID`` (or gets a new one); a job run
started from a request keeps that id, one started by the scheduler gets a new
one.  Context variables follow ``await`` and FastAPI's thread pool; code that
starts its own threads must run them in ``contextvars.copy_context()``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
job_var: ContextVar[str | None] = ContextVar("job", default=None)
business_date_var: ContextVar[str | None] = ContextVar("business_date", default=None)

# What a client may send as its request id: short, printable, no spaces.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | None) -> str:
    """The client's ``X-Request-ID`` if it is a sane token, else a new id."""
    if value and _CLIENT_ID.fullmatch(value):
        return value
    return new_request_id()


@contextmanager
def bound(**values: str | None) -> Iterator[None]:
    """Set ``request_id``, ``job`` and/or ``business_date`` for the block."""
    variables = {"request_id": request_id_var, "job": job_var, "business_date": business_date_var}
    tokens = [(variables[name], variables[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


def current() -> dict[str, str]:
    """The context of the work in progress, for a log line."""
    values = {
        "request_id": request_id_var.get(),
        "job": job_var.get(),
        "business_date": business_date_var.get(),
    }
    return {name: value for name, value in values.items() if value is not None}
