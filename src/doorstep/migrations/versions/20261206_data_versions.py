"""data versions: a counter per data view, raised by every write to the tables it reads

Revision ID: 20261206_0018_data_versions
Revises: 20261205_0016_feed
Create Date: 2026-12-06 10:00:00

``data_versions``: one row per view of the data (``versions.REQUEST_LOG``, the public
request log), whose ``version`` every transaction that writes to the view's tables raises
as it commits (``doorstep.versions``). A process keeps what it rendered under the version
it read, and checks the version with one query per request, so that a change made through
any process is seen on the next request (issue 16). No row reads as version 0.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from doorstep.migrations import ddl

revision: str = "20261206_0018_data_versions"
down_revision: str | None = "20261205_0016_feed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_versions",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        ddl.primary_key("data_versions", "name"),
    )


def downgrade() -> None:
    op.drop_table("data_versions")
