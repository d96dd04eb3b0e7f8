"""Alembic migrations produce exactly the models' schema on every backend."""

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
