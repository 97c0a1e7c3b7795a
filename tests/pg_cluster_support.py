"""A PostgreSQL primary and a streaming replica of its own, for tests that need one.

Built with the machine's PostgreSQL tools (``initdb``, ``pg_basebackup``, ``pg_ctl``)
in a temporary folder, on free ports, and run as the ``postgres`` OS user when the tests
run as root (PostgreSQL refuses to run as root). The machine's own server is not touched.

    cluster = start_cluster()                  # primary and replica, streaming
    cluster.create_database("doorstep")        # on the primary; replicated
    cluster.primary_url("doorstep"), cluster.replica_url("doorstep")
    cluster.pause_replay(); cluster.resume_replay()
    cluster.stop_replica(); cluster.start_replica()
    cluster.stop()
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg


def _pg_bin() -> Path:
    """DOORSTEP_TEST_PG_BIN, else the newest Debian PostgreSQL (15 on this machine)."""
    if "DOORSTEP_TEST_PG_BIN" in os.environ:
        return Path(os.environ["DOORSTEP_TEST_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()

# Small and fast: no fsync, little memory (several clusters may run on one machine).
_PRIMARY_CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
wal_level = replica
max_wal_senders = 4
max_connections = 60
shared_buffers = 16MB
fsync = off
full_page_writes = off
synchronous_commit = on
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
log_min_messages = warning
"""


def _as_postgres() -> list[str]:
    """Run a PostgreSQL tool as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _run(*args: str | Path) -> None:
    done = subprocess.run(
        [*_as_postgres(), *(str(a) for a in args)], capture_output=True, text=True, timeout=120
    )
    if done.returncode:
        raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr or done.stdout}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgCluster:
    """A running primary and its replica, both on 127.0.0.1, user postgres, no password."""

    root: Path
    primary_port: int
    replica_port: int

    @property
    def primary_dir(self) -> Path:
        return self.root / "primary"

    @property
    def replica_dir(self) -> Path:
        return self.root / "replica"

    def primary_url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.primary_port}/{database}"

    def replica_url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.replica_port}/{database}"

    def connect(self, port: int, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname=database, autocommit=True
        )

    def create_database(self, name: str) -> None:
        """A database on the primary; returns once the replica has it too."""
        with self.connect(self.primary_port) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.wait_for_replay()

    def wait_for_replay(self, timeout_s: float = 30.0) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        with self.connect(self.primary_port) as conn:
            row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        assert row is not None
        deadline = time.monotonic() + timeout_s
        with self.connect(self.replica_port) as conn:
            while time.monotonic() < deadline:
                done = conn.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0],)
                ).fetchone()
                if done and done[0]:
                    return
                time.sleep(0.05)
        raise TimeoutError("the replica did not catch up")

    def pause_replay(self) -> None:
        with self.connect(self.replica_port) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        with self.connect(self.replica_port) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")

    def stop_replica(self) -> None:
        _run(PG_BIN / "pg_ctl", "-D", self.replica_dir, "-m", "fast", "-w", "stop")

    def start_replica(self) -> None:
        _start(self.replica_dir)
        _wait_until_answering(self, self.replica_port)

    def stop(self) -> None:
        for data_dir in (self.replica_dir, self.primary_dir):
            if (data_dir / "postmaster.pid").exists():
                stop = [str(PG_BIN / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "stop"]
                subprocess.run([*_as_postgres(), *stop], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def _start(data_dir: Path) -> None:
    # -w waits for the server to accept connections (a standby: once it is consistent).
    log_file = data_dir.parent / f"{data_dir.name}.log"
    _run(PG_BIN / "pg_ctl", "-D", data_dir, "-l", log_file, "-w", "start")


def _wait_until_answering(cluster: PgCluster, port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with cluster.connect(port) as conn:
                conn.execute("SELECT 1")
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def start_cluster() -> PgCluster:
    """A primary and a streaming replica in a new temporary folder of their own (pytest's
    folders are closed to the postgres user), removed by ``stop``."""
    root = Path(tempfile.mkdtemp(prefix="doorstep-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = PgCluster(root=root, primary_port=free_port(), replica_port=free_port())
    try:
        _run(
            PG_BIN / "initdb", "-D", cluster.primary_dir, "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        with (cluster.primary_dir / "postgresql.conf").open("a") as conf:
            conf.write(_PRIMARY_CONF.format(port=cluster.primary_port, sockets=root))
        _start(cluster.primary_dir)
        _wait_until_answering(cluster, cluster.primary_port)
        _run(
            PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", str(cluster.primary_port),
            "-U", "postgres", "-D", cluster.replica_dir, "-X", "stream", "-R",
            "--checkpoint=fast", "--no-sync",
        )  # fmt: skip
        with (cluster.replica_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {cluster.replica_port}\n")
        cluster.start_replica()
        cluster.wait_for_replay()
    except BaseException:
        cluster.stop()
        raise
    return cluster
