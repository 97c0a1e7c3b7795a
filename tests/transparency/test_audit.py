"""The audit chain: appends in order, and any edit, removal or swap is caught."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from doorstep import audit
from doorstep.audit import AuditRecord
from doorstep.runtime import Runtime


def _append(runtime: Runtime, n: int) -> None:
    with runtime.db.transaction() as session:
        for i in range(n):
            audit.record(
                session=session,
                actor=audit.Actor.system(),
                action=audit.AuditAction.POLICY_CHANGED,
                subject_type="thing",
                subject_id=str(i),
                details={"i": i, "x": [1, 2]},
            )


def _check(runtime: Runtime) -> audit.ChainCheck:
    with runtime.db.transaction() as session:
        return audit.verify_chain(session=session, batch=3)


def test_intact_chain_verifies(runtime: Runtime) -> None:
    _append(runtime, 7)
    result = _check(runtime)
    assert result.ok and result.records == 7
    with runtime.db.transaction() as session:
        head = session.scalar(select(AuditRecord.hash).order_by(AuditRecord.seq.desc()))
    assert result.head_hash == head


def test_edited_record_is_named(runtime: Runtime) -> None:
    _append(runtime, 6)
    with runtime.db.transaction() as session:
        session.execute(
            update(AuditRecord).where(AuditRecord.seq == 4).values(details={"i": 99, "x": [1, 2]})
        )
    result = _check(runtime)
    assert not result.ok and result.first_bad_seq == 4 and "changed" in (result.problem or "")


def test_removed_record_is_named(runtime: Runtime) -> None:
    _append(runtime, 6)
    with runtime.db.transaction() as session:
        session.execute(delete(AuditRecord).where(AuditRecord.seq == 3))
    result = _check(runtime)
    assert not result.ok and result.first_bad_seq == 3 and "missing" in (result.problem or "")


def test_removed_tail_is_caught_when_head_known(runtime: Runtime) -> None:
    _append(runtime, 5)
    head = _check(runtime).head_hash
    with runtime.db.transaction() as session:
        session.execute(delete(AuditRecord).where(AuditRecord.seq == 5))
    assert _check(runtime).head_hash != head


def test_swapped_records_are_named(runtime: Runtime) -> None:
    _append(runtime, 6)
    with runtime.db.transaction() as session:
        a = session.get(AuditRecord, 2)
        b = session.get(AuditRecord, 5)
        assert a is not None and b is not None
        fields = (
            "at",
            "actor_id",
            "actor_label",
            "action",
            "subject_type",
            "subject_id",
            "details",
            "is_public",
            "prev_hash",
            "hash",
        )
        va = {f: getattr(a, f) for f in fields}
        vb = {f: getattr(b, f) for f in fields}
        session.execute(
            update(AuditRecord)
            .where(AuditRecord.seq == 2)
            .values(hash="tmp", **{f: vb[f] for f in fields if f != "hash"})
        )
        session.execute(
            update(AuditRecord).where(AuditRecord.seq == 5).values(**{f: va[f] for f in fields})
        )
        session.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(hash=vb["hash"]))
    result = _check(runtime)
    assert not result.ok and result.first_bad_seq == 2
