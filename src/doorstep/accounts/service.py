"""Accounts: users, their roles, and their notification preferences.

Sign-in and browser sessions live in ``accounts.sign_in``, API tokens in
``accounts.api_tokens``, two-factor sign-in in ``accounts.two_factor`` (its recovery
codes in ``accounts.recovery``). Every role change is audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnExpressionArgument, ScalarSelect, delete, select
from sqlalchemy.orm import Session

from doorstep import audit, timezones
from doorstep.accounts.models import NotificationPreference, PushSubscription, Role, User
from doorstep.accounts.schemas import UserCreate
from doorstep.audit import Actor
from doorstep.errors import Conflict, Forbidden, InvalidInput, NotFound
from doorstep.media.kinds import EventKind
from doorstep.security import hash_password

DEFAULT_ALERT_KINDS = [k.value for k in EventKind]


def actor_of(user: User) -> Actor:
    return Actor(id=user.id, label=f"user:{user.id}")


def normalize_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class AuditTrail:
    """How users' actions on one kind of thing go into the audit log: under which subject
    type, and whether the public sees them. Each domain keeps one per kind of thing."""

    subject_type: str
    is_public: bool = False

    def record(
        self,
        session: Session,
        user: User | audit.Actor,
        action: audit.AuditAction,
        subject_id: uuid.UUID | str,
        /,
        **details: object,
    ) -> None:
        """Append ``user``'s action on the thing ``subject_id`` to the audit log, in the
        caller's transaction (``user`` may be the system's actor, for the command line).
        Every keyword is a detail of the record."""
        audit.record(
            session=session,
            actor=user if isinstance(user, audit.Actor) else actor_of(user),
            action=action,
            subject_type=self.subject_type,
            subject_id=subject_id,
            is_public=self.is_public,
            details=details,
        )


_ACCOUNTS = AuditTrail("user")


def record_account_action(
    *, session: Session, user: User, action: audit.AuditAction, details: dict[str, object]
) -> None:
    """Append the user's own action on his account (sign-in, two-factor, recovery codes)
    to the audit log, in the caller's transaction."""
    _ACCOUNTS.record(session, user, action, user.id, **details)


# ---------------------------------------------------------------- users


def create_user(
    *,
    session: Session,
    actor: Actor | None,
    email: str,
    display_name: str,
    password: str,
    role: Role = Role.resident,
) -> User:
    """Create an account with an argon2 password hash and default alert preferences.

    Refuses a taken email (409). Accounts with a role above resident are audited.
    """
    email = normalize_email(email)
    if len(password) < 10:
        raise InvalidInput("Passwords need at least 10 characters.", code="weak_password")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("An account with this email already exists.", code="email_taken")
    user = User(
        email=email,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=role,
    )
    session.add(user)
    session.flush()
    session.add(NotificationPreference(user_id=user.id, event_kinds=list(DEFAULT_ALERT_KINDS)))
    if role != Role.resident:
        _audit_role(session=session, actor=actor or Actor.system(), user=user, previous=None)
    session.flush()
    return user


def sign_up(*, session: Session, form: UserCreate) -> User:
    """A resident's own new account, from the sign-up form (page or API)."""
    return create_user(
        session=session,
        actor=None,
        email=form.email,
        display_name=form.display_name,
        password=form.password,
    )


def get_user(*, session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def find_user_by_email(*, session: Session, email: str) -> User | None:
    """The account of this email address (compared as stored: trimmed, lower case), or None."""
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def list_users(*, session: Session, user_ids: Collection[uuid.UUID]) -> list[User]:
    """The users with these ids, read in one query, ordered by display name (as lists show
    them); ids of no user are left out."""
    return list(
        session.scalars(select(User).where(User.id.in_(set(user_ids))).order_by(User.display_name))
    )


def display_name_of(user_id: ColumnExpressionArgument[uuid.UUID]) -> ScalarSelect[str]:
    """The display name of the user ``user_id`` names, as a column of a statement that
    reads rows of many users at once."""
    return select(User.display_name).where(User.id == user_id).scalar_subquery()


# ---------------------------------------------------------------- roles


def _audit_role(*, session: Session, actor: Actor, user: User, previous: Role | None) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=audit.AuditAction.USER_ROLE_CHANGED,
        subject_type="user",
        subject_id=user.id,
        details={"from": previous.value if previous is not None else None, "to": user.role.value},
    )


def change_role(*, session: Session, actor: User, user_id: uuid.UUID, role: Role) -> User:
    """Only an admin changes roles; every change is audited in the same transaction."""
    if actor.role != Role.admin:
        raise Forbidden("Only an administrator can change roles.", code="admin_only")
    user = get_user(session=session, user_id=user_id)
    if user.id == actor.id and role != Role.admin:
        raise InvalidInput("Administrators cannot demote themselves.", code="self_demotion")
    assign_role(session=session, actor=actor_of(actor), user=user, role=role)
    return user


def assign_role(*, session: Session, actor: Actor, user: User, role: Role) -> Role:
    """Give ``user`` the role and audit the change as ``actor``; returns the previous role.

    Checks no permission: for the server's shell (acting as the system) and for
    :func:`change_role` once it checked the admin.
    """
    previous = user.role
    user.role = role
    _audit_role(session=session, actor=actor, user=user, previous=previous)
    session.flush()
    return previous


def grant_agency_member_role(*, session: Session, user_id: uuid.UUID) -> None:
    """A resident who belongs to a verified agency becomes an agency member; a higher role
    (moderator, admin) is kept. Not audited here: the agency's own public record
    (verification, joining) says why."""
    user = session.get(User, user_id)
    if user is not None and user.role == Role.resident:
        user.role = Role.agency_member


def withdraw_agency_member_role(*, session: Session, user_id: uuid.UUID) -> None:
    """An agency member removed from his agency is a resident again; a higher role is kept.
    Not audited here: the agency's public removal record says why."""
    user = session.get(User, user_id)
    if user is not None and user.role == Role.agency_member:
        user.role = Role.resident


# ---------------------------------------------------------------- preferences


def set_time_zone(*, session: Session, user: User, name: str | None) -> User:
    """The zone he reads times in (None: his browser's); 400 for a name that is no zone."""
    user.time_zone = timezones.checked_name(name) if name else None
    session.flush()
    return user


def get_preferences(*, session: Session, user: User) -> NotificationPreference:
    return preferences_of(session=session, users=[user])[user.id]


def preferences_of(
    *, session: Session, users: list[User]
) -> dict[uuid.UUID, NotificationPreference]:
    """Each user's alert preferences, read in one query; the defaults are written for
    users who never set theirs."""
    ids = [user.id for user in users]
    found = {
        p.user_id: p
        for p in session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id.in_(ids))
        )
    }
    fresh = [
        NotificationPreference(
            user_id=user_id,
            in_app=True,
            email=True,
            push=False,
            event_kinds=list(DEFAULT_ALERT_KINDS),
        )
        for user_id in dict.fromkeys(ids)
        if user_id not in found
    ]
    if fresh:
        session.add_all(fresh)
        session.flush()
        found.update((p.user_id, p) for p in fresh)
    return found


def update_preferences(
    *,
    session: Session,
    user: User,
    in_app: bool | None = None,
    email: bool | None = None,
    push: bool | None = None,
    event_kinds: list[str] | None = None,
) -> NotificationPreference:
    prefs = get_preferences(session=session, user=user)
    if in_app is not None:
        prefs.in_app = in_app
    if email is not None:
        prefs.email = email
    if push is not None:
        prefs.push = push
    if event_kinds is not None:
        valid = {k.value for k in EventKind}
        unknown = sorted(set(event_kinds) - valid)
        if unknown:
            raise InvalidInput(f"Unknown event kinds: {', '.join(unknown)}.", code="unknown_kind")
        prefs.event_kinds = sorted(set(event_kinds))
    session.flush()
    return prefs


def add_push_subscription(
    *, session: Session, user: User, endpoint: str, p256dh: str, auth: str
) -> PushSubscription:
    existing = session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if existing is not None:
        existing.user_id, existing.p256dh, existing.auth = user.id, p256dh, auth
        session.flush()
        return existing
    row = PushSubscription(user_id=user.id, endpoint=endpoint, p256dh=p256dh, auth=auth)
    session.add(row)
    session.flush()
    return row


def push_subscriptions(*, session: Session, user_id: uuid.UUID) -> list[PushSubscription]:
    return list(
        session.scalars(select(PushSubscription).where(PushSubscription.user_id == user_id))
    )


def remove_push_subscription(*, session: Session, endpoint: str) -> None:
    session.execute(delete(PushSubscription).where(PushSubscription.endpoint == endpoint))
