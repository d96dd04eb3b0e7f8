"""Alembic environment: migrates the connection ``loyalty db upgrade`` hands over."""

from alembic import context

from loyalty_plugin.migrations.env_filters import VERSION_TABLE, include_name
from loyalty_plugin.models import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    include_name=include_name,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
