"""The hash-chained audit log, below every domain that writes to it.

Domains append with :func:`record` inside the transaction that makes the change;
the public portal reads the chain. This package imports nothing but the core
(``db``), so no domain has to reach up into the portal to be audited.
"""

from doorstep.audit.actions import AGENCY_STATUS_ACTIONS, AuditAction
from doorstep.audit.chain import (
    GENESIS_HASH,
    Actor,
    ChainCheck,
    canonical_content,
    record,
    record_hash,
    verify_chain,
)
from doorstep.audit.models import AuditRecord

__all__ = [
    "AGENCY_STATUS_ACTIONS",
    "GENESIS_HASH",
    "Actor",
    "AuditAction",
    "AuditRecord",
    "ChainCheck",
    "canonical_content",
    "record",
    "record_hash",
    "verify_chain",
]
