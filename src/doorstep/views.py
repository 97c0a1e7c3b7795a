"""A response schema built from a row: the fields named like the row's attributes are
copied, and only those that differ (a renamed column, a derived value, a URL) are spelled
out where the view is made."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

SchemaT = TypeVar("SchemaT", bound=BaseModel)


def view_of(schema: type[SchemaT], source: object, **values: Any) -> SchemaT:
    """``schema`` validated from ``values`` and, for each other field, ``source``'s attribute
    of the same name. An attribute whose field is given is never read (a relationship
    loaded ``lazy="raise"``, a private column): a view shows only what its schema declares."""
    copied = {name: getattr(source, name) for name in schema.model_fields if name not in values}
    return schema.model_validate({**copied, **values})
