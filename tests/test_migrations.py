"""Migrations: each revision goes down and up again on SQLite and PostgreSQL, and the
schema they build is exactly the one the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from doorstep.migrate import downgrade, upgrade
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
]


def _schema(url: str, table: str) -> tuple[set[str], set[str]]:
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
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
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
