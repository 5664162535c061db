"""Origination's service: the functions other modules and the API call.

Keyword-only, take a ``Session``, never commit.  Quotas in ``quota``;
applications, batches and decisions in ``applications``; contracts,
disbursements and address reports in ``contracts``.  The bank-files module
confirms disbursements (format 3) with ``confirm_disbursement``.
"""

from app.origination.applications import (
    Student,
    application_years,
    create_application,
    decide,
    overdue_decisions,
    submit_batch,
    update_application,
    vet_application,
)
from app.origination.contracts import (
    confirm_disbursement,
    contract_years,
    graduated_on,
    missing_address_reports,
    report_address,
    sign_contract,
)
from app.origination.quota import adjust_quota, consume_quota, create_quota

__all__ = [
    "Student",
    "adjust_quota",
    "application_years",
    "confirm_disbursement",
    "consume_quota",
    "contract_years",
    "create_application",
    "create_quota",
    "decide",
    "graduated_on",
    "missing_address_reports",
    "overdue_decisions",
    "report_address",
    "sign_contract",
    "submit_batch",
    "update_application",
    "vet_application",
]
