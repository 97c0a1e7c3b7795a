"""Which agency here a dataset's agency is, and the review of those that match none.

Only agencies that were ever verified (active, suspended or ended) match: a pending or
rejected application never does. A dataset's agency matches by the code it carries
(the Post's agency id, an ORI code) when an agency here carries it, else by its
normalized name or one of the agency's aliases in its state. A name that matches no
agency, or more than one, is kept with the reason and grouped for review, with
suggestions ranked by a fuzzy score; linking a name adds an alias and matches the
stored rows at once.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from doorstep.accounts.models import User
from doorstep.agencies import identity
from doorstep.agencies.models import IdentifierScheme
from doorstep.errors import InvalidInput
from doorstep.transparency import public
from doorstep.transparency.models import (
    ATTRIBUTIONS,
    RECORDS,
    AccountabilityAttribution,
    AccountabilityImport,
    AccountabilityRecord,
)
from doorstep.transparency.records.names import check_kind, normalize_name, normalize_state

NO_AGENCY = "no agency with this name in this state"
SEVERAL = "more than one agency has this name in this state"
NO_STATE = "state not understood"


@dataclass
class AgencyIndex:
    by_name: dict[tuple[str, str], set[uuid.UUID]] = field(default_factory=dict)
    by_code: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)
    # For suggestions: every partner's normalized name, by state.
    names_by_state: dict[str, dict[uuid.UUID, str]] = field(default_factory=dict)
    labels: dict[uuid.UUID, str] = field(default_factory=dict)


def agency_index(session: Session) -> AgencyIndex:
    """Names, aliases and codes of every agency that was ever verified."""
    index = AgencyIndex()
    for agency in public.participating_agencies(session=session):
        key = (normalize_name(agency.name), agency.state.upper())
        index.by_name.setdefault(key, set()).add(agency.id)
        index.names_by_state.setdefault(key[1], {})[agency.id] = key[0]
        index.labels[agency.id] = f"{agency.name} ({agency.state})"
    for known in identity.known_identifiers(session=session):
        if known.scheme == IdentifierScheme.alias:
            key = (normalize_name(known.value), known.state)
            index.by_name.setdefault(key, set()).add(known.agency_id)
        else:
            index.by_code[(known.scheme.value, known.value.upper())] = known.agency_id
    return index


def _codes(source_id: str | None, ori_codes: str | None) -> list[tuple[str, str]]:
    codes = []
    if source_id and ":" in source_id:
        scheme, _, value = source_id.partition(":")
        codes.append((scheme, value.upper()))
    codes += [("ori", c.strip().upper()) for c in (ori_codes or "").split(";") if c.strip()]
    return codes


def match_agency(
    index: AgencyIndex,
    *,
    name: str,
    state: str | None,
    source_id: str | None = None,
    ori_codes: str | None = None,
) -> tuple[uuid.UUID | None, str | None]:
    """The agency a dataset's agency is, or None and the reason."""
    for code in _codes(source_id, ori_codes):
        if code in index.by_code:
            return index.by_code[code], None
    if state is None:
        return None, NO_STATE
    found = index.by_name.get((normalize_name(name), state), set())
    if len(found) == 1:
        return next(iter(found)), None
    return None, SEVERAL if found else NO_AGENCY


def rematch(*, session: Session, kind: str | None = None, everything: bool = False) -> int:
    """Match again the agencies kept for review (or every one, ``everything``): agencies
    join and aliases are added after an import. Returns how many found their agency.
    Only the rows whose match changes are written."""
    table = ATTRIBUTIONS
    stmt = select(
        table.c.id, table.c.agency_name, table.c.state, table.c.source_agency_id,
        table.c.ori_codes, table.c.agency_id, table.c.review_note,
    )  # fmt: skip
    if kind:
        stmt = stmt.join(RECORDS, AccountabilityRecord.id == table.c.record_id).where(
            AccountabilityRecord.kind == check_kind(kind)
        )
    if not everything:
        stmt = stmt.where(table.c.agency_id.is_(None))
    index = agency_index(session)
    changes = []
    for row_id, name, state, source_id, ori, old_agency, old_note in session.execute(stmt):
        agency_id, note = match_agency(
            index, name=name, state=state, source_id=source_id, ori_codes=ori
        )
        if (agency_id, note) != (old_agency, old_note):
            changes.append({"row_id": row_id, "agency_id": agency_id, "review_note": note})
    if changes:
        session.execute(
            table.update()
            .where(table.c.id == bindparam("row_id"))
            .values(agency_id=bindparam("agency_id"), review_note=bindparam("review_note")),
            changes,
        )
    session.expire_all()
    return sum(1 for c in changes if c["agency_id"] is not None)


@dataclass(frozen=True)
class Suggestion:
    agency_id: uuid.UUID
    label: str
    score: float


@dataclass(frozen=True)
class ReviewGroup:
    """Rows that name the same agency the same way and match no agency."""

    name: str
    state: str
    rows: int
    note: str
    suggestions: list[Suggestion]


# Words every agency name has: a suggestion is ranked on the words that tell agencies
# apart ("new york" against "new york city"), not on "police department".
_GENERIC = {"police", "department", "office", "sheriffs", "bureau", "division", "of",
            "metropolitan", "public", "safety", "the"}  # fmt: skip


def _distinctive(normalized: str) -> str:
    words = [w for w in normalized.split() if w not in _GENERIC]
    return " ".join(words) or normalized


def suggest(index: AgencyIndex, name: str, state: str | None, limit: int = 3) -> list[Suggestion]:
    """Partners of the same state whose name is closest, best first (score 0-100)."""
    choices = {key: _distinctive(n) for key, n in index.names_by_state.get(state or "", {}).items()}
    ranked = process.extract(
        _distinctive(normalize_name(name)), choices, scorer=fuzz.token_sort_ratio,
        limit=limit, score_cutoff=50,
    )  # fmt: skip
    return [Suggestion(agency_id=key, label=index.labels[key], score=round(score, 1))
            for _name, score, key in ranked]  # fmt: skip


def review_groups(*, session: Session, kind: str | None = None) -> list[ReviewGroup]:
    """The unmatched agencies of releases still in force, grouped by (name, state), the
    most frequent first, with suggestions."""
    stmt = (
        select(
            AccountabilityAttribution.agency_name,
            AccountabilityAttribution.state,
            AccountabilityAttribution.state_text,
            AccountabilityAttribution.review_note,
        )
        .join(AccountabilityRecord, AccountabilityRecord.id == AccountabilityAttribution.record_id)
        .join(AccountabilityImport, AccountabilityImport.id == AccountabilityRecord.import_id)
        .where(
            AccountabilityAttribution.agency_id.is_(None),
            AccountabilityImport.withdrawn_at.is_(None),
        )
    )
    if kind:
        stmt = stmt.where(AccountabilityRecord.kind == check_kind(kind))
    counts = Counter(
        (name, state or state_text, state, note or NO_AGENCY)
        for name, state, state_text, note in session.execute(stmt)
    )
    index = agency_index(session)
    return [
        ReviewGroup(name, shown, n, note, suggest(index, name, state))
        for (name, shown, state, note), n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))
    ]


def undated_records(*, session: Session, kind: str | None = None) -> list[AccountabilityRecord]:
    """Incidents of releases in force whose date was not understood: kept, out of every
    figure, for review."""
    stmt = (
        select(AccountabilityRecord)
        .join(AccountabilityImport, AccountabilityImport.id == AccountabilityRecord.import_id)
        .where(
            AccountabilityRecord.occurred_on.is_(None),
            AccountabilityImport.withdrawn_at.is_(None),
        )
        .order_by(AccountabilityRecord.kind, AccountabilityRecord.row_number)
    )
    if kind:
        stmt = stmt.where(AccountabilityRecord.kind == check_kind(kind))
    return list(session.scalars(stmt))


def link_name(
    *, session: Session, actor: User | None, name: str, state: str, agency_id: uuid.UUID
) -> int:
    """The dataset's ``name`` in ``state`` is this agency: the name becomes its alias
    (audited, public) and every stored row kept for review is matched again at once.
    Returns how many rows found their agency."""
    code = normalize_state(state)
    agency = public.get_participating_agency(session=session, agency_id=agency_id)
    if agency is None:
        raise InvalidInput(
            "Only an agency that was verified can be linked.", code="agency_not_partner"
        )
    if code != agency.state.upper():
        raise InvalidInput(
            f"The agency is in {agency.state}, not {state}: a name is linked in its state.",
            code="state_mismatch",
        )
    identity.add_identifier(
        session=session,
        actor=actor,
        agency_id=agency.id,
        scheme=IdentifierScheme.alias,
        value=name,
    )
    return rematch(session=session)


def add_identifier(
    *, session: Session, actor: User | None, agency_id: uuid.UUID, scheme: str, value: str
) -> int:
    """Give the agency an alias or an outside code (``identity.add_identifier``) and
    match the stored rows kept for review at once; returns how many found their agency."""
    if scheme not in IdentifierScheme.__members__:
        raise InvalidInput(
            f"Unknown identifier kind {scheme!r}: use alias, wapo (the Post's agency id) or ori.",
            code="invalid_scheme",
        )
    identity.add_identifier(
        session=session,
        actor=actor,
        agency_id=agency_id,
        scheme=IdentifierScheme(scheme),
        value=value,
    )
    return rematch(session=session)


def remove_identifier(
    *, session: Session, actor: User | None, agency_id: uuid.UUID, identifier_id: uuid.UUID
) -> None:
    """Take an identifier off the agency (audited, public) and match every stored row
    again: the rows it matched go back to the review."""
    identity.remove_identifier(
        session=session, actor=actor, agency_id=agency_id, identifier_id=identifier_id
    )
    rematch(session=session, everything=True)
