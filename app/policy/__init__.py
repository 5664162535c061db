"""Policy versions as data: one TOML file per national rule set."""

from app.policy.loader import (
    PolicyFileError,
    PolicyVersion,
    get_policy,
    load_versions,
    policies,
    version_in_force,
)

__all__ = [
    "PolicyFileError",
    "PolicyVersion",
    "get_policy",
    "load_versions",
    "policies",
    "version_in_force",
]
