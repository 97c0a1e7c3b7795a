"""Imports every domain's tables so metadata (Alembic, tests) sees the whole schema."""

from doorstep.accounts import models as accounts_models
from doorstep.agencies import models as agencies_models
from doorstep.audit import models as audit_models
from doorstep.cameras import models as cameras_models
from doorstep.db import Base
from doorstep.feed import models as feed_models
from doorstep.footage import models as footage_models
from doorstep.notify import models as notify_models
from doorstep.transparency import models as transparency_models

__all__ = [
    "Base",
    "accounts_models",
    "agencies_models",
    "audit_models",
    "cameras_models",
    "feed_models",
    "footage_models",
    "notify_models",
    "transparency_models",
]
