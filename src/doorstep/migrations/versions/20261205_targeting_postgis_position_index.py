"""targeting on PostGIS: a GiST index on the exact positions of cameras that accept requests

Revision ID: 20261205_0012_targeting
Revises: 20261204_0011
Create Date: 2026-12-05 09:00:00.000000

Where the PostgreSQL database has the PostGIS extension, ``target_owners`` decides
containment and footage in one statement (``footage/targeting_postgis.py``); this index
serves it. It is an expression index on the existing columns, so a camera's position
has one source and the index follows every change of it. Only cameras that accept
requests are in it, and it carries the camera's id, owner and coordinates, so the scan
needs no visit to the table (an index-only scan).

A no-op on SQLite and on PostgreSQL without PostGIS: those keep the H3 path, and the
application looks for the index at run time. A server that gets PostGIS later builds
the index by running ``ddl.POSTGIS_POSITION_INDEX`` (README, Deployment).
"""

from collections.abc import Sequence

from alembic import op

from doorstep.migrations import ddl

revision: str = "20261205_0012_targeting"
down_revision: str | None = "20261204_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ddl.execute_where_postgis(ddl.POSTGIS_POSITION_INDEX)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_cameras_exact_position")
