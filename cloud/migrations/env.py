"""Alembic environment: takes the URL from the config set by cloud.migrate."""
from alembic import context

from cloud import carrier_models  # noqa: F401 - the carrier API's tables
from cloud import consumer_models  # noqa: F401 - the consumer pages' table too
from cloud.console import models as console_models  # noqa: F401 - the console's accounts
from cloud.console import complaint_models  # noqa: F401 - complaints
from cloud.console import recall_models  # noqa: F401 - the console's recall register
from cloud.console import webhook_models  # noqa: F401 - the outgoing webhooks
from cloud import master  # noqa: F401 - the master-data tables belong to the metadata
from cloud import site_health  # noqa: F401 - gateway status and refused batches
from cloud.db import make_engine
from cloud.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
