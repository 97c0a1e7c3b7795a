"""Read replicas: PostgreSQL hot standbys that serve read-only requests.

A request that only reads (``http.ReadSession``) runs on a replica when one is fit:

- it answers (a replica that does not is not tried again for ``replica_retry_s``);
- it is a standby (a promoted one has left the primary's history);
- its replay lags at most ``replica_max_lag_s`` behind the primary;
- it has replayed the caller's own last write: after a request that may write commits, the
  primary's WAL insert position is sent back in the ``doorstep_read_after`` cookie, and the
  caller's reads stay on the primary until a replica's ``pg_last_wal_replay_lsn()`` has
  passed it. The cookie travels with the caller, so this holds whichever web process
  answers him. It is not signed: it only decides where its bearer's own reads go, both
  places answer them with the same rules, and a forged position sends them to the primary,
  which any write of his does too.

Otherwise the next replica is tried, then the primary. Each skip is counted
(``doorstep_replica_skips_total``) and logged when a replica's state changes.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from doorstep.db import make_engine
from doorstep.telemetry import READS_SERVED, REPLICA_SKIPS

log = structlog.get_logger(__name__)

# The cookie holding the primary's WAL position after the caller's last write.
FENCE_COOKIE = "doorstep_read_after"
# How long it is kept: a replica far behind that is skipped for lag anyway.
FENCE_COOKIE_MAX_AGE_S = 600
# Where ``http.get_session`` leaves the position for ``ReadFenceCookie`` (the request's state).
FENCE_STATE = "doorstep_read_after"

_LSN = re.compile(r"^([0-9A-F]{1,8})/([0-9A-F]{1,8})$", re.I)

# On a standby: is it one, how far it has replayed, and how old that is. An idle primary
# sends nothing, so a standby that streams from it (its WAL receiver is connected: the
# view has a row, whatever the role may see of it) and has replayed all it received
# counts as current; one cut off from the primary ages from its last replayed commit.
_STATE_QUERY = text(
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
    " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
    " AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN 0"
    " ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()),"
    " 'Infinity') END::float8"
)


def parse_lsn(value: str | None) -> int | None:
    """A WAL position (``16/B374D848``) as a number; None for anything else."""
    found = _LSN.match(value or "")
    if found is None:
        return None
    return (int(found.group(1), 16) << 32) | int(found.group(2), 16)


# Kept when the position cannot be read: the caller's reads stay on the primary.
_FURTHEST = "FFFFFFFF/FFFFFFFF"


def primary_position(engine: Engine) -> str:
    """The primary's WAL insert position, taken after a commit: every record of that
    commit lies before it, so a standby that has replayed up to it shows the commit."""
    try:
        with engine.connect() as connection:
            found = connection.exec_driver_sql("SELECT pg_current_wal_insert_lsn()::text")
            return str(found.scalar())
    except DBAPIError as exc:  # the write is committed; its reads stay on the primary
        log.warning("replica.position_unknown", error=type(exc).__name__)
        return _FURTHEST


@dataclass(frozen=True)
class ReplicaState:
    """What a replica said when asked: replayed up to ``replay_lsn``, ``lag_s`` behind."""

    standby: bool
    replay_lsn: int | None
    lag_s: float


def _read_state(session: Session) -> ReplicaState:
    standby, replayed, lag_s = session.execute(_STATE_QUERY).one()
    return ReplicaState(bool(standby), parse_lsn(replayed), float(lag_s))


class Replica:
    """One standby: its engine, and when it may be tried again after failing to answer."""

    def __init__(self, url: str, *, connect_timeout_s: int) -> None:
        parsed = make_url(url)
        # The label in logs and metrics: where it is, never its password.
        self.name = f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"
        self.engine = make_engine(url, connect_args={"connect_timeout": connect_timeout_s})
        self.down_until = 0.0
        self.last_skip: str | None = None

    def state(self) -> ReplicaState:
        with Session(self.engine) as session:
            return _read_state(session)


class ReplicaSet:
    """The process's replicas, tried in turn from a rotating start."""

    def __init__(
        self, urls: Sequence[str], *, max_lag_s: float, retry_s: float, connect_timeout_s: int
    ) -> None:
        self.replicas = [Replica(u, connect_timeout_s=connect_timeout_s) for u in urls]
        self.max_lag_s = max_lag_s
        self.retry_s = retry_s
        self._turn = itertools.count()

    @property
    def configured(self) -> bool:
        return bool(self.replicas)

    def _in_turn(self) -> list[Replica]:
        start = next(self._turn) % len(self.replicas)
        return self.replicas[start:] + self.replicas[:start]

    def _skip(self, replica: Replica, reason: str, **fields: Any) -> None:
        REPLICA_SKIPS.labels(replica.name, reason).inc()
        if replica.last_skip != reason:  # once per change, not once per request
            log.warning("replica.skipped", replica=replica.name, reason=reason, **fields)
        replica.last_skip = reason

    def _usable(self, replica: Replica, session: Session, after: int | None) -> bool:
        """Whether ``session`` (on ``replica``, its transaction begun by the state query)
        may serve a read that must see the WAL up to ``after``."""
        try:
            state = _read_state(session)
        except DBAPIError as exc:
            replica.down_until = time.monotonic() + self.retry_s
            self._skip(replica, "down", error=type(exc).__name__)
            return False
        if not state.standby:
            self._skip(replica, "not_standby")
            return False
        if state.lag_s > self.max_lag_s:
            self._skip(replica, "lagging", lag_s=state.lag_s, max_lag_s=self.max_lag_s)
            return False
        if after is not None and (state.replay_lsn or 0) < after:
            # Not a fault: the caller wrote moments ago. Counted, not logged.
            REPLICA_SKIPS.labels(replica.name, "behind_own_write").inc()
            return False
        if replica.last_skip is not None:
            log.info("replica.usable", replica=replica.name, lag_s=state.lag_s)
            replica.last_skip = None
        return True

    @contextmanager
    def read(self, *, after: int | None = None) -> Iterator[Session | None]:
        """A read transaction on the first fit replica (see the module's doc), or None
        when none is: the caller then reads from the primary. The replica's transaction
        checked the replay position before anything else, and a standby only moves
        forward, so every query in it sees at least that position."""
        for replica in self._in_turn():
            if replica.down_until > time.monotonic():
                self._skip(replica, "down")
                continue
            session = Session(replica.engine, expire_on_commit=False)
            if not self._usable(replica, session, after):
                session.close()
                continue
            READS_SERVED.labels("replica").inc()
            try:
                yield session
                session.commit()  # nothing was written; ends the transaction cleanly
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
            return
        READS_SERVED.labels("primary").inc()
        yield None

    def states(self) -> Iterator[tuple[Replica, ReplicaState | None]]:
        """Each replica's state now, or None for one that does not answer."""
        for replica in self.replicas:
            try:
                yield replica, replica.state()
            except DBAPIError:
                yield replica, None

    def dispose(self) -> None:
        for replica in self.replicas:
            replica.engine.dispose()


class ReadFenceCookie:
    """Sends back, with the answer to a request whose writes committed on the primary,
    the ``doorstep_read_after`` cookie holding the primary's WAL position after them
    (``http.get_session`` leaves it in the request's state)."""

    def __init__(self, app: ASGIApp, *, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_fence(message: Message) -> None:
            position = scope.get("state", {}).get(FENCE_STATE)
            if message["type"] == "http.response.start" and position:
                cookie = (
                    f"{FENCE_COOKIE}={position}; Max-Age={FENCE_COOKIE_MAX_AGE_S}; Path=/;"
                    f" HttpOnly; SameSite=Lax{'; Secure' if self.secure else ''}"
                )
                headers = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_fence)
