"""The migrations build exactly the schema the models describe, on both databases."""
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cloud import carrier_models  # noqa: F401 - the carrier API's tables
from cloud import consumer_models  # noqa: F401 - as are the consumer pages' tables
from cloud import master  # noqa: F401 - the master-data tables are part of the schema
from cloud import site_health  # noqa: F401 - gateway status and refused batches
from cloud.console import models as console_models  # noqa: F401 - the console's accounts
from cloud.console import complaint_models  # noqa: F401 - complaints
from cloud.console import recall_models  # noqa: F401 - the console's recall register
from cloud.console import webhook_models  # noqa: F401 - the outgoing webhooks
from cloud.db import get_db
from cloud.models import Base


def test_models_and_migrations_agree(app):
    with get_db(app).engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert {"company", "item", "batch", "shipment", "location"} <= set(Base.metadata.tables)
