"""Every module's models, imported so that ``Base.metadata`` is complete (Alembic)."""

from app.audit.models import AuditRecord
from app.auth.models import ApiKey, User
from app.bankfiles.models import BankLine, BankUpload, BankUploadPart
from app.db import Base
from app.defaults.models import DefaultReport, DefaultSnapshot, DefaultSnapshotRow
from app.idempotency.models import IdempotencyKey
from app.ledger.models import Account, JournalEntry, JournalLeg
from app.origination.models import (
    AddressReport,
    Application,
    ApplicationYear,
    Batch,
    ContractYear,
    Decision,
    Quota,
)
from app.reference.models import Agreement, Bank, Center, Enrolment, University
from app.riskfund.models import RiskFund, RiskFundShare
from app.servicing.models import Borrower, Loan, LoanEngineState, LoanEvent
from app.subsidy.models import SubsidyStatement, SubsidyStatementLine
from jobs.models import JobChunk, JobRun

__all__ = [
    "Account",
    "AddressReport",
    "Application",
    "ApplicationYear",
    "Batch",
    "ContractYear",
    "Decision",
    "IdempotencyKey",
    "Quota",
    "Agreement",
    "ApiKey",
    "AuditRecord",
    "BankLine",
    "BankUpload",
    "BankUploadPart",
    "Bank",
    "Base",
    "Borrower",
    "Center",
    "DefaultReport",
    "DefaultSnapshot",
    "DefaultSnapshotRow",
    "Enrolment",
    "JobChunk",
    "JobRun",
    "JournalEntry",
    "JournalLeg",
    "Loan",
    "LoanEngineState",
    "LoanEvent",
    "RiskFund",
    "RiskFundShare",
    "SubsidyStatement",
    "SubsidyStatementLine",
    "University",
    "User",
]
