"""The residents whose feed the HTTP benchmark reads: picked at random among those with a
feed home, each given an API token through the accounts service (audited, like any
token), and the tokens revoked at the end. Generated residents cannot sign in."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts.models import ApiToken, User
from doorstep.feed.models import Home
from doorstep.runtime import Runtime

TOKEN_NAME = "bench-http"


def pick_residents(session: Session, rng: np.random.Generator, count: int) -> list[uuid.UUID]:
    homes = list(session.scalars(select(Home.user_id).order_by(Home.user_id)))
    if not homes:
        raise ValueError("the database has no residents with a home: run `bench generate` first")
    picks = rng.choice(len(homes), size=min(count, len(homes)), replace=False)
    return [homes[int(i)] for i in picks]


def issue_tokens(runtime: Runtime, residents: Sequence[uuid.UUID], stamp: str) -> list[str]:
    """One API token per resident through the accounts service (one audited record each)."""
    tokens: list[str] = []
    with runtime.db.transaction() as session:
        for user_id in residents:
            user = session.get_one(User, user_id)
            _row, token = account_service.create_api_token(
                session=session, user=user, name=f"{TOKEN_NAME} {stamp}"
            )
            if not re.fullmatch(r"[A-Za-z0-9_\-]+", token):
                raise ValueError("an API token has characters the Lua script cannot carry")
            tokens.append(token)
    return tokens


def revoke_tokens(runtime: Runtime, stamp: str) -> int:
    with runtime.db.transaction() as session:
        rows = list(
            session.scalars(
                select(ApiToken).where(
                    ApiToken.name == f"{TOKEN_NAME} {stamp}", ApiToken.revoked_at.is_(None)
                )
            )
        )
        for row in rows:
            account_service.revoke_api_token(
                session=session, user=session.get_one(User, row.user_id), token_id=row.id
            )
    return len(rows)
