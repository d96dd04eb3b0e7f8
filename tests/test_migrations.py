"""Alembic migrations produce exactly the models' schema on every backend."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from loyalty_plugin import migrations
from loyalty_plugin.migrations.env_filters import include_name
from loyalty_plugin.models import Base
from tests.conftest import (
    _recreate_server_database,
    database_name,
    drop_server_database,
    make_engine,
)


@pytest.fixture
def empty_database(backend, tmp_path):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
    else:
        url = _recreate_server_database(backend, database_name("migrate"))
    engine = make_engine(url)
    yield engine
    engine.dispose()
    if backend != "sqlite":
        drop_server_database(backend, database_name("migrate"))


def differences(engine: sa.Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        return compare_metadata(context, Base.metadata)


def test_migrations_match_the_models(empty_database) -> None:
    """Upgrading an empty database to head leaves nothing for autogenerate to add."""
    migrations.upgrade(empty_database)
    assert differences(empty_database) == []


def test_migrations_go_down_and_up_again(empty_database) -> None:
    """Every migration can be undone and redone."""
    migrations.upgrade(empty_database)
    migrations.downgrade(empty_database, "base")
    tables = set(sa.inspect(empty_database).get_table_names())
    assert tables <= {"loyalty_alembic_version"}
    migrations.upgrade(empty_database)
    assert differences(empty_database) == []


def test_merchants_without_a_program_get_the_default_program(empty_database) -> None:
    """The data migration gives a merchant with no program the default program, stored
    exactly as the programs service stores it; a merchant with programs is left alone."""
    from loyalty_plugin.models.base import UTCDateTime
    from loyalty_plugin.schemas.programs import load_program, settings_hash
    from loyalty_plugin.services.earning.programs import DEFAULT_PROGRAM, DEFAULT_PROGRAM_SINCE

    migrations.upgrade(empty_database, "e5c1a9d07b3f")
    created = "2026-01-01 00:00:00"
    with empty_database.begin() as connection:
        for merchant_id in ("old", "configured"):
            connection.execute(
                sa.text(
                    "INSERT INTO merchants (id, name, currency, timezone, created_at) "
                    "VALUES (:id, :id, 'EUR', 'UTC', :at)"
                ),
                {"id": merchant_id, "at": created},
            )
        programs = sa.table(
            "programs",
            *(sa.column(name) for name in ("merchant_id", "key", "name", "status")),
            sa.column("created_at", UTCDateTime()),
            sa.column("updated_at", UTCDateTime()),
        )
        at = datetime(2026, 1, 1, tzinfo=UTC)
        connection.execute(
            programs.insert().values(
                merchant_id="configured",
                key="own",
                name="Own",
                status="draft",
                created_at=at,
                updated_at=at,
            )
        )
    migrations.upgrade(empty_database)
    _identity, expected = load_program(DEFAULT_PROGRAM, default_currency="EUR")
    with empty_database.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT p.merchant_id, p.key, p.status, v.number, v.settings_hash "
                "FROM programs p JOIN program_versions v ON v.program_id = p.id "
                "ORDER BY p.merchant_id"
            )
        ).all()
        since = connection.execute(sa.text("SELECT effective_from FROM program_versions")).scalar()
        tokens = connection.execute(sa.text("SELECT settings_token FROM merchants")).scalars()
        tokens = list(tokens)
    assert [tuple(r) for r in rows] == [("old", "default", "active", 1, settings_hash(expected))]
    assert str(since).startswith(DEFAULT_PROGRAM_SINCE.strftime("%Y-%m-%d"))
    # Merchants made before the settings cache get a token each (issue 20).
    assert len(set(tokens)) == 2 and all(len(t) == 32 for t in tokens), tokens
