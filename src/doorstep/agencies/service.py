"""Agencies: every rule about applying, verification, status and membership.

Every agency status change and membership change is an audited, public action. The
member's account role follows his membership through the accounts service.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnExpressionArgument, ScalarSelect, or_, select
from sqlalchemy.orm import Session

from doorstep import audit, geo
from doorstep.accounts import service as account_service
from doorstep.accounts.models import Role, User
from doorstep.accounts.service import normalize_email
from doorstep.agencies.models import (
    Agency,
    AgencyInvitation,
    AgencyMembership,
    AgencyStatus,
    AgencyType,
    InvitationEmailStatus,
    MemberRole,
)
from doorstep.db import utcnow
from doorstep.errors import Conflict, Forbidden, InvalidInput, NotFound
from doorstep.notify import outbox
from doorstep.security import new_token, token_digest

INVITATION_JOB = "agencies.invitation_email"
INVITATION_DAYS = 14
INVITATION_TOKEN_PREFIX = "dsi"  # noqa: S105 (a label, not a secret)
TWO_FACTOR_REQUIRED = "two_factor_required"
_STATE = re.compile(r"^[A-Z]{2}$")

# Which status an admin action moves an agency to, from which statuses.
_TRANSITIONS: dict[str, tuple[AgencyStatus, set[AgencyStatus]]] = {
    "verify": (AgencyStatus.verified, {AgencyStatus.applied}),
    "reject": (AgencyStatus.rejected, {AgencyStatus.applied}),
    "suspend": (AgencyStatus.suspended, {AgencyStatus.verified}),
    "reinstate": (AgencyStatus.verified, {AgencyStatus.suspended}),
    "end": (AgencyStatus.ended, {AgencyStatus.verified, AgencyStatus.suspended}),
}


# Agency actions are public; changes of a pending invitation are not.
AGENCY_TRAIL = account_service.AuditTrail("agency", is_public=True)
_INVITATIONS = account_service.AuditTrail("agency")


def available_actions(status: AgencyStatus) -> list[str]:
    """The status actions an admin may take on an agency in ``status`` (for the admin page)."""
    return [action for action, (_to, allowed) in _TRANSITIONS.items() if status in allowed]


def apply_for_agency(
    *,
    session: Session,
    applicant: User,
    name: str,
    agency_type: AgencyType,
    city: str,
    state: str,
    jurisdiction: dict[str, Any],
    contact_email: str,
    website: str,
) -> Agency:
    """Record an application; the applicant becomes its agency admin once it is verified."""
    geo.parse_area(jurisdiction)
    state = state.strip().upper()
    if not _STATE.match(state):
        raise InvalidInput("State is a two-letter code, e.g. PA.", code="invalid_state")
    if not website.startswith(("https://", "http://")):
        raise InvalidInput("The website starts with https://.", code="invalid_website")
    agency = Agency(
        name=name.strip(),
        agency_type=agency_type,
        city=city.strip(),
        state=state,
        jurisdiction=jurisdiction,
        contact_email=normalize_email(contact_email),
        website=website.strip(),
        applied_by=applicant.id,
    )
    session.add(agency)
    session.flush()
    session.add(
        AgencyMembership(agency_id=agency.id, user_id=applicant.id, role=MemberRole.agency_admin)
    )
    details = {"name": agency.name, "state": state, "type": agency_type.value}
    AGENCY_TRAIL.record(session, applicant, audit.AuditAction.AGENCY_APPLIED, agency.id, **details)
    session.flush()
    return agency


def get_agency(*, session: Session, agency_id: uuid.UUID) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("No such agency.", code="agency_not_found")
    return agency


def name_of(agency_id: ColumnExpressionArgument[uuid.UUID | None]) -> ScalarSelect[str | None]:
    """The name of the agency ``agency_id`` names (None for none), as a column of a
    statement that reads rows of many agencies at once."""
    return select(Agency.name).where(Agency.id == agency_id).scalar_subquery()


def list_agencies(*, session: Session, status: AgencyStatus | None = None) -> list[Agency]:
    stmt = select(Agency).order_by(Agency.state, Agency.name)
    if status is not None:
        stmt = stmt.where(Agency.status == status)
    return list(session.scalars(stmt))


def change_status(
    *, session: Session, actor: User, agency_id: uuid.UUID, action: str, reason: str | None
) -> Agency:
    """An instance admin verifies, rejects, suspends, reinstates or ends an agency. Audited."""
    if actor.role != Role.admin:
        raise Forbidden(
            "Only an instance administrator can change an agency's status.", code="admin_only"
        )
    if action not in _TRANSITIONS:
        raise InvalidInput(f"Unknown action {action!r}.", code="invalid_action")
    target, allowed_from = _TRANSITIONS[action]
    agency = get_agency(session=session, agency_id=agency_id)
    if agency.status not in allowed_from:
        raise Conflict(
            f"An agency that is {agency.status.value} cannot be {target.value}.",
            code="invalid_transition",
        )
    if action in ("reject", "suspend", "end") and not (reason and reason.strip()):
        raise InvalidInput("Give a reason; it is published.", code="reason_required")
    now = utcnow()
    previous = agency.status
    agency.status = target
    agency.status_reason = reason.strip() if reason else None
    if action == "verify":
        agency.verified_at = agency.verified_at or now
        for membership in session.scalars(
            select(AgencyMembership).where(AgencyMembership.agency_id == agency.id)
        ):
            account_service.grant_agency_member_role(session=session, user_id=membership.user_id)
    elif action == "suspend":
        agency.suspended_at = now
    elif action == "reinstate":
        agency.suspended_at = None
    elif action == "end":
        agency.ended_at = now
    details = {"from": previous.value, "to": target.value, "reason": reason}
    AGENCY_TRAIL.record(session, actor, audit.AGENCY_STATUS_ACTIONS[action], agency.id, **details)
    session.flush()
    return agency


def membership_of(*, session: Session, user: User) -> tuple[Agency, AgencyMembership] | None:
    row = session.execute(
        select(Agency, AgencyMembership)
        .join(AgencyMembership, AgencyMembership.agency_id == Agency.id)
        .where(AgencyMembership.user_id == user.id)
        .order_by(AgencyMembership.created_at)
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def require_member(
    *,
    session: Session,
    user: User,
    roles: set[MemberRole] | None = None,
    agency_id: uuid.UUID | None = None,
) -> tuple[Agency, AgencyMembership]:
    """The agency a user acts for. Refuses non-members, members of another agency,
    agencies that are not verified (or suspended, ended), and members without
    two-factor sign-in: every agency action needs it."""
    found = membership_of(session=session, user=user)
    if found is None or (agency_id is not None and found[0].id != agency_id):
        raise Forbidden("You are not a member of this agency.", code="not_agency_member")
    agency, membership = found
    if agency.status != AgencyStatus.verified:
        raise Forbidden(
            f"This agency is {agency.status.value}; it cannot act now.", code="agency_not_active"
        )
    if not user.totp_enabled:
        raise Forbidden(
            "Agency members must turn on two-factor sign-in first.", code=TWO_FACTOR_REQUIRED
        )
    if roles is not None and membership.role not in roles:
        raise Forbidden(
            f"This needs the role {' or '.join(sorted(r.value for r in roles))}.",
            code="agency_role_required",
        )
    return agency, membership


def invite_member(
    *, session: Session, actor: User, agency_id: uuid.UUID, email: str, role: MemberRole
) -> tuple[AgencyInvitation, str]:
    """An agency admin invites someone: the email (with its own link) goes via the outbox,
    and the returned token makes the link the admin can copy and hand over himself (an
    instance without email still works). The token is returned once; only its hash is kept.
    """
    agency, _m = require_member(
        session=session, user=actor, roles={MemberRole.agency_admin}, agency_id=agency_id
    )
    link_token = new_token(INVITATION_TOKEN_PREFIX)
    invitation = AgencyInvitation(
        agency_id=agency.id,
        email=normalize_email(email),
        role=role,
        # Placeholder hash; the email's token is made when the email is sent, so no
        # usable secret ever sits in the outbox.
        token_hash=token_digest(new_token(INVITATION_TOKEN_PREFIX)),
        link_token_hash=token_digest(link_token),
        invited_by=actor.id,
        expires_at=utcnow() + timedelta(days=INVITATION_DAYS),
        email_status=InvitationEmailStatus.queued,
    )
    session.add(invitation)
    session.flush()
    _queue_invitation_email(session, invitation)
    AGENCY_TRAIL.record(
        session, actor, audit.AuditAction.AGENCY_MEMBER_INVITED, agency.id, role=role.value
    )
    return invitation, link_token


def _record_invitation(
    session: Session, actor: User, action: audit.AuditAction, invitation: AgencyInvitation
) -> None:
    """Audit a change of a pending invitation (these records are not public)."""
    details = {"invitation_id": str(invitation.id)}
    _INVITATIONS.record(session, actor, action, invitation.agency_id, **details)


def _queue_invitation_email(session: Session, invitation: AgencyInvitation) -> None:
    outbox.enqueue(
        session=session, kind=INVITATION_JOB, payload={"invitation_id": str(invitation.id)}
    )


def accept_url(*, base_url: str, token: str) -> str:
    """The page where the invitee accepts, with the token in the link."""
    return f"{base_url.rstrip('/')}/agency/invitations/accept?token={token}"


def list_invitations(
    *, session: Session, actor: User, agency_id: uuid.UUID
) -> list[AgencyInvitation]:
    """The agency's pending invitations (not accepted), newest first, for its admins."""
    require_member(
        session=session, user=actor, roles={MemberRole.agency_admin}, agency_id=agency_id
    )
    return list(
        session.scalars(
            select(AgencyInvitation)
            .where(AgencyInvitation.agency_id == agency_id, AgencyInvitation.accepted_at.is_(None))
            .order_by(AgencyInvitation.created_at.desc())
        )
    )


def _pending_invitation(
    *, session: Session, actor: User, agency_id: uuid.UUID, invitation_id: uuid.UUID
) -> AgencyInvitation:
    require_member(
        session=session, user=actor, roles={MemberRole.agency_admin}, agency_id=agency_id
    )
    invitation = session.get(AgencyInvitation, invitation_id, with_for_update=True)
    if invitation is None or invitation.agency_id != agency_id:
        raise NotFound("No such invitation.", code="invitation_not_found")
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was accepted already.", code="invitation_accepted")
    return invitation


def issue_invitation_link(
    *, session: Session, actor: User, agency_id: uuid.UUID, invitation_id: uuid.UUID
) -> tuple[AgencyInvitation, str]:
    """A fresh link token for a pending invitation (the previous copied link stops
    working; the emailed one does not), valid for another INVITATION_DAYS. Returned once.
    Audited."""
    invitation = _pending_invitation(
        session=session, actor=actor, agency_id=agency_id, invitation_id=invitation_id
    )
    link_token = new_token(INVITATION_TOKEN_PREFIX)
    invitation.link_token_hash = token_digest(link_token)
    invitation.expires_at = utcnow() + timedelta(days=INVITATION_DAYS)
    _record_invitation(session, actor, audit.AuditAction.AGENCY_INVITATION_LINK_ISSUED, invitation)
    session.flush()
    return invitation, link_token


def resend_invitation(
    *,
    session: Session,
    actor: User,
    agency_id: uuid.UUID,
    invitation_id: uuid.UUID,
    email_available: bool,
) -> AgencyInvitation:
    """Queue the invitation email again (with a new emailed token), valid for another
    INVITATION_DAYS. Refused when the instance cannot send email: copying the link is the
    way then. Audited."""
    invitation = _pending_invitation(
        session=session, actor=actor, agency_id=agency_id, invitation_id=invitation_id
    )
    if not email_available:
        raise Conflict(
            "This instance has no SMTP server configured, so it cannot send email. Copy the "
            "invitation link and send it to the invitee yourself.",
            code="email_not_configured",
        )
    invitation.expires_at = utcnow() + timedelta(days=INVITATION_DAYS)
    invitation.email_status = InvitationEmailStatus.queued
    invitation.email_error = None
    _queue_invitation_email(session, invitation)
    _record_invitation(session, actor, audit.AuditAction.AGENCY_INVITATION_RESENT, invitation)
    session.flush()
    return invitation


def record_invitation_email(
    *,
    session: Session,
    invitation_id: uuid.UUID,
    status: InvitationEmailStatus,
    error: str | None = None,
) -> None:
    """Record where the invitation email stands (sent, retrying, failed with why)."""
    invitation = session.get(AgencyInvitation, invitation_id)
    if invitation is None:
        return
    invitation.email_status = status
    invitation.email_error = error[:2000] if error else None
    invitation.email_attempted_at = utcnow()
    session.flush()


def issue_invitation_token(
    *, session: Session, invitation_id: uuid.UUID
) -> tuple[AgencyInvitation, Agency, str] | None:
    """Make the invitation's secret token (at send time). None when no longer pending."""
    invitation = session.get(AgencyInvitation, invitation_id)
    if invitation is None or invitation.accepted_at is not None:
        return None
    token = new_token(INVITATION_TOKEN_PREFIX)
    invitation.token_hash = token_digest(token)
    session.flush()
    return invitation, get_agency(session=session, agency_id=invitation.agency_id), token


def accept_invitation(*, session: Session, user: User, token: str) -> AgencyMembership:
    """Join the agency the invitation is for; only the invited email address may accept.

    The token is the emailed one or the copied link's.
    """
    digest = token_digest(token)
    invitation = session.scalar(
        select(AgencyInvitation)
        .where(
            or_(AgencyInvitation.token_hash == digest, AgencyInvitation.link_token_hash == digest)
        )
        .with_for_update()
    )
    if invitation is None or invitation.accepted_at is not None:
        raise NotFound("This invitation is not valid or was used.", code="invitation_invalid")
    if invitation.expires_at < utcnow():
        raise Conflict("This invitation expired; ask for a new one.", code="invitation_expired")
    if invitation.email != user.email:
        raise Forbidden(
            "This invitation was sent to another email address.", code="invitation_other_email"
        )
    if membership_of(session=session, user=user) is not None:
        raise Conflict("You already belong to an agency.", code="already_member")
    membership = AgencyMembership(
        agency_id=invitation.agency_id, user_id=user.id, role=invitation.role
    )
    session.add(membership)
    invitation.accepted_at = utcnow()
    account_service.grant_agency_member_role(session=session, user_id=user.id)
    details = {"role": invitation.role.value}
    AGENCY_TRAIL.record(
        session, user, audit.AuditAction.AGENCY_MEMBER_JOINED, invitation.agency_id, **details
    )
    session.flush()
    return membership


def members(
    *, session: Session, actor: User, agency_id: uuid.UUID
) -> list[tuple[AgencyMembership, User]]:
    """The agency's members with their accounts, by display name, for its members."""
    require_member(session=session, user=actor, agency_id=agency_id)
    memberships = {
        m.user_id: m
        for m in session.scalars(
            select(AgencyMembership).where(AgencyMembership.agency_id == agency_id)
        )
    }
    users = account_service.list_users(session=session, user_ids=memberships.keys())
    return [(memberships[user.id], user) for user in users]


def remove_member(
    *, session: Session, actor: User, agency_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    require_member(
        session=session, user=actor, roles={MemberRole.agency_admin}, agency_id=agency_id
    )
    if user_id == actor.id:
        raise InvalidInput("An agency admin cannot remove himself.", code="self_removal")
    membership = session.scalar(
        select(AgencyMembership).where(
            AgencyMembership.agency_id == agency_id, AgencyMembership.user_id == user_id
        )
    )
    if membership is None:
        raise NotFound("No such member.")
    session.delete(membership)
    account_service.withdraw_agency_member_role(session=session, user_id=user_id)
    details = {"role": membership.role.value}
    AGENCY_TRAIL.record(
        session, actor, audit.AuditAction.AGENCY_MEMBER_REMOVED, agency_id, **details
    )
    session.flush()
