"""Read models filled from rows: a schema takes each of its fields from the row's attribute
of the same name, unless the caller computes that field. One way for every domain, so that
a field added to a schema and its table needs no new line in each view."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

SchemaT = TypeVar("SchemaT", bound=BaseModel)


def view_of(schema: type[SchemaT], source: object, **computed: Any) -> SchemaT:
    """``schema`` validated from ``computed`` and, for each other field, from ``source``'s
    attribute of that name. A computed value the schema has no field for is a mistake."""
    unknown = computed.keys() - schema.model_fields.keys()
    if unknown:
        raise TypeError(f"{schema.__name__} has no field {', '.join(sorted(unknown))}")
    return schema.model_validate(
        {
            name: computed[name] if name in computed else getattr(source, name)
            for name in schema.model_fields
        }
    )
