"""Migrations: each revision goes down and up again on SQLite and PostgreSQL, and the
schema they build is exactly the one the models describe."""

from __future__ import annotations

import hashlib
import io

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

from doorstep.cameras import partitions
from doorstep.migrate import NOT_IN_MODELS, alembic_config, autogenerate_filter, downgrade, upgrade
from doorstep.models import Base

# revision, the one before it, tables it creates, an index it must create
REVISIONS = [
    (
        "20261129_0001",
        "base",
        {
            "users",
            "cameras",
            "clips",
            "motion_events",
            "audit_records",
            "outbox_jobs",
            "notifications",
        },
        ("motion_events", "uq_motion_events_camera_id_device_ref"),
    ),
    (
        "20261129_0002",
        "20261129_0001",
        {"agencies", "agency_memberships", "agency_invitations", "policies", "policy_versions"},
        ("agency_memberships", "ix_agency_memberships_user_id"),
    ),
    (
        "20261129_0003",
        "20261129_0002",
        {
            "footage_requests",
            "footage_recipients",
            "evidence",
            "evidence_accesses",
            "owner_request_settings",
            "agency_mutes",
        },
        ("footage_recipients", "ix_footage_recipients_owner_id_created_at"),
    ),
    (
        "20261129_0004",
        "20261129_0003",
        {
            "feed_homes",
            "feed_posts",
            "feed_comments",
            "feed_reports",
            "feed_tips",
            "feed_digest_items",
            "feed_settings",
        },
        ("feed_posts", "ix_feed_posts_coarse_cell_published_at"),
    ),
    (
        "20261129_0005",
        "20261129_0004",
        {
            "audit_daily_heads",
            "agency_statements",
            "accountability_imports",
            "accountability_records",
            "accountability_analyses",
        },
        ("accountability_records", "ix_accountability_records_kind_agency_id_occurred_on"),
    ),
    ("20261129_0006", "20261129_0005", set(), ("cameras", "ix_cameras_targeting")),
    ("20261204_0010", "20261204_0009", set(), ("clips", "ix_clips_retention_due")),
    (
        "20261205_0015",
        "20261205_0014_event_alerts",
        set(),
        ("motion_events", "ix_motion_events_camera_id_started_at"),
    ),
    (
        "20261205_0016_feed",
        "20261205_0015",
        set(),
        ("feed_posts", "ix_feed_posts_coarse_cell_published_at_id"),
    ),
]


def _schema(url: str, table: str) -> tuple[set[str], set[str]]:
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names()) - NOT_IN_MODELS
        indexes = (
            {i["name"] for i in inspect(engine).get_indexes(table)} if table in tables else set()
        )
        return tables, {str(i) for i in indexes}
    finally:
        engine.dispose()


def test_every_revision_goes_down_and_up(fresh_url: str) -> None:
    for revision, previous, tables, (table, index) in REVISIONS:
        upgrade(fresh_url, revision)
        present, indexes = _schema(fresh_url, table)
        assert present >= tables, revision
        assert index in indexes, (revision, index)
        downgrade(fresh_url, previous)
        present, _ = _schema(fresh_url, table)
        assert not present & tables, revision
        upgrade(fresh_url, revision)
    downgrade(fresh_url, "base")
    assert _schema(fresh_url, "users")[0] <= {"alembic_version"}


def test_migrations_build_exactly_the_models(fresh_url: str) -> None:
    upgrade(fresh_url)
    engine = create_engine(fresh_url)
    try:
        with engine.connect() as conn:
            # The same filter as the migrations' own autogenerate: the partitions are not
            # in the models, and on PostgreSQL the events' two unique rules live in
            # motion_event_keys (tests/cameras/test_partitions.py proves they hold).
            context = MigrationContext.configure(
                conn,
                opts={"include_object": autogenerate_filter(partitions.autogenerate_filter(conn))},
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_postgis_index_is_built_only_where_postgis_is(fresh_url: str) -> None:
    """Revision 0012 builds the PostGIS position index on PostgreSQL with the extension
    (the test databases have it where the server does, as in CI), nothing elsewhere, and
    takes it away on the way down."""
    upgrade(fresh_url, "20261205_0012_targeting")
    engine = create_engine(fresh_url)
    try:
        with engine.connect() as conn:
            postgis = conn.dialect.name == "postgresql" and bool(
                conn.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'"))
            )
        assert postgis == fresh_url.startswith("postgresql")
        assert ("ix_cameras_exact_position" in _indexes(engine)) == postgis
        downgrade(fresh_url, "20261204_0011")
        assert "ix_cameras_exact_position" not in _indexes(engine)
        upgrade(fresh_url)
        assert ("ix_cameras_exact_position" in _indexes(engine)) == postgis
    finally:
        engine.dispose()


def _indexes(engine: Engine) -> set[str]:
    """The cameras' indexes, expression indexes included (read from the catalogue)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            query = "SELECT indexname FROM pg_indexes WHERE tablename = 'cameras'"
        else:
            query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cameras'"
        return {str(name) for name in conn.scalars(text(query))}


# SHA-256 of the SQL that ``alembic upgrade --sql`` writes for the revisions that have run
# on deployments, taken before their columns were built by ``doorstep.migrations.ddl``:
# a change to a builder that would alter what a past revision emits fails here.
PAST_DDL = {
    ("postgresql+psycopg://postgres@127.0.0.1:5432/offline", "20261203_0007"): (
        "cb596756ff8ddce4f9c4cb7106d8d0803a9471e10c22a410a2f9ed065725e8e2"
    ),
    # SQLite offline stops before 0007, whose table rebuild needs a live database.
    ("sqlite:///offline.db", "20261129_0006"): (
        "a0b9e4a459e9768130fc6019ab6fd2542c7e01e1bce3c1d0dfae6a68a03065b6"
    ),
}


def test_past_revisions_emit_the_same_sql() -> None:
    for (url, revision), digest in PAST_DDL.items():
        out = io.StringIO()
        config = alembic_config(url)
        config.output_buffer = out
        command.upgrade(config, revision, sql=True)
        assert hashlib.sha256(out.getvalue().encode()).hexdigest() == digest, (url, revision)
