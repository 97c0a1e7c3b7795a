"""The process-wide pieces every entry point wires together: settings, database, media."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from doorstep.config import Settings
from doorstep.db import Database
from doorstep.media.storage import MediaStorage, storage_from_url
from doorstep.replicas import ReplicaSet


@dataclass
class Runtime:
    settings: Settings
    db: Database = field(init=False)
    replicas: ReplicaSet = field(init=False)

    def __post_init__(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.settings.resolved_database_url())
        if self.settings.database_replica_urls and not self.db.is_postgres:
            raise ValueError("DOORSTEP_DATABASE_REPLICA_URLS needs a PostgreSQL primary")
        self.replicas = ReplicaSet(
            self.settings.database_replica_urls,
            max_lag_s=self.settings.replica_max_lag_s,
            retry_s=self.settings.replica_retry_s,
            connect_timeout_s=self.settings.replica_connect_timeout_s,
        )

    @cached_property
    def storage(self) -> MediaStorage:
        return storage_from_url(self.settings.resolved_media_url(), self.settings)

    def close(self) -> None:
        self.db.dispose()
        self.replicas.dispose()
