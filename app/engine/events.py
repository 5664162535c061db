"""The dated events a loan's life is made of, as the engine takes them.

The same types come from a simulation scenario and from a stored loan's
event table; ``index`` is the event's position in its source, so an error
can name it ("event 3 (plan): …").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Event:
    date: dt.date
    index: int

    kind = "event"

    def label(self) -> str:
        return f"event {self.index} ({self.kind})"


@dataclass(frozen=True)
class Disbursement(Event):
    amount: Decimal
    kind = "disbursement"


@dataclass(frozen=True)
class Graduation(Event):
    """Graduation, or withdrawal (终止学业), which is treated as graduation."""

    kind = "graduation"


@dataclass(frozen=True)
class ContinuedStudy(Event):
    kind = "continued_study_start"


@dataclass(frozen=True)
class Plan(Event):
    grace_months: int
    term_months: int
    frequency: str
    method: str
    kind = "plan"


@dataclass(frozen=True)
class Payment(Event):
    amount: Decimal
    kind = "payment"


@dataclass(frozen=True)
class Contact(Event):
    """A borrower-initiated contact with the bank (主动联系)."""

    kind = "contact"


@dataclass(frozen=True)
class RateChange(Event):
    annual_rate: Decimal
    kind = "rate_change"


class EventError(ValueError):
    """An event the rules refuse; the message names the event."""

    def __init__(self, event: Event | None, reason: str):
        self.event, self.reason = event, reason
        super().__init__(f"{event.label()}: {reason}" if event else reason)
