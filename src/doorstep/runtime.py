"""The process-wide pieces every entry point wires together: settings, database, media."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from doorstep.config import Settings
from doorstep.db import Database
from doorstep.media.storage import MediaStorage, storage_from_url


@dataclass
class Runtime:
    settings: Settings
    db: Database = field(init=False)

    def __post_init__(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.settings.resolved_database_url())

    @cached_property
    def storage(self) -> MediaStorage:
        return storage_from_url(self.settings.resolved_media_url(), self.settings)

    def close(self) -> None:
        self.db.dispose()
