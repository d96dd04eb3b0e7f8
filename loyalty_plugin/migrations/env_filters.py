"""What Alembic looks at: only the loyalty tables, with their own version table."""

from __future__ import annotations

from loyalty_plugin.models import Base

#: Our own version table, so a host's Alembic history in a shared database is untouched.
VERSION_TABLE = "loyalty_alembic_version"


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Only the loyalty tables: a host's own tables in a shared database are left alone."""
    return type_ != "table" or name in Base.metadata.tables
