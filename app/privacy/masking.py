"""Masking of citizen ID numbers (公民身份号码): first 6 and last 4 characters shown."""

from __future__ import annotations

import re

from app.auth.models import Role
from app.auth.principal import Principal

# 18 characters (17 digits and a digit or X check character), not part of a
# longer run of letters or digits.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")


def mask_id_number(id_number: str) -> str:
    """``110105********002X``: what lists and logs show of an ID number."""
    if len(id_number) <= 10:
        return "*" * len(id_number)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def redact_id_numbers(text: str) -> str:
    """``text`` with every ID-number-like run of 18 characters masked."""
    return _ID_NUMBER.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)


def id_number_for(principal: Principal, id_number: str) -> str:
    """The ID number as ``principal`` may see it: in full for the borrower's
    own bank (scoping shows a bank only its borrowers) and admins, masked for
    everyone else.  (The center's default list shows it in full by design.)"""
    if principal.role in (Role.bank_operator, Role.admin):
        return id_number
    return mask_id_number(id_number)
