"""Run Alembic migrations programmatically (CLI, demo, tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.schema import SchemaItem

from doorstep.cameras import partitions

IncludeObject = Callable[[SchemaItem, str | None, str, bool, SchemaItem | None], bool]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(slug)s")
    return cfg


# What the models do not describe, on purpose: PostGIS's own catalogue table, and the
# PostGIS index of revision 20261205_0012 (built only where the extension is there).
NOT_IN_MODELS = frozenset({"spatial_ref_sys", "ix_cameras_exact_position"})


def autogenerate_filter(connection: Connection | None = None) -> IncludeObject:
    """Autogenerate's filter: leave out what ``NOT_IN_MODELS`` names and, on a database
    whose events are partitioned (``connection`` given), the partitions and the two unique
    rules kept in ``motion_event_keys``."""
    partition_filter = partitions.autogenerate_filter(connection) if connection else None

    def include_object(
        obj: SchemaItem,
        name: str | None,
        type_: str,
        reflected: bool,
        compare_to: SchemaItem | None,
    ) -> bool:
        if name in NOT_IN_MODELS:
            return False
        return partition_filter is None or partition_filter(obj, name, type_, reflected, compare_to)

    return include_object


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
