"""What Alembic looks at: only the loyalty tables, with their own version table."""

from __future__ import annotations

from loyalty_plugin.models import Base

#: Our own version table, so a host's Alembic history in a shared database is untouched.
VERSION_TABLE = "loyalty_alembic_version"

#: The customer search's indexes differ per backend (an expression index on PostgreSQL,
#: ``COLLATE NOCASE`` on SQLite, a plain one on MariaDB: see the migration
#: ``c6e2d8a4f1b7``), so the models do not declare them and autogenerate leaves them alone.
SEARCH_INDEXES = frozenset(
    {
        "ix_customers_search_newest",
        "ix_customers_search_first_name",
        "ix_customers_search_last_name",
        "ix_customers_search_email",
        "ix_customers_search_number",
        "ix_customers_search_phone",
        # The customers whose group differs from the one their kept points are filed
        # under: partial, on PostgreSQL and SQLite only (migration ``d5b9e3a7c1f4``).
        "ix_customers_report_group_moved",
    }
)


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Only the loyalty tables (a host's own tables in a shared database are left alone),
    and not the per-backend search indexes."""
    if type_ == "index":
        return name not in SEARCH_INDEXES
    return type_ != "table" or name in Base.metadata.tables
