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


def test_the_state_parent_index_leaves_out_items_without_a_parent(app):
    # every state upsert sets parent_key: a full index was rewritten for every loose item
    # of every batch (issue #7); lookups are parent_key = X, which the partial one answers
    engine = get_db(app).engine
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            defs = [r[0] for r in conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'epc_state'")]
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT key FROM epc_state WHERE parent_key = 'x'"))
            assert "epc_state_parent" in plan
        else:
            defs = [r[0] for r in conn.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'epc_state'")]
    parent_defs = [d for d in defs if d and "(parent_key)" in d]
    assert len(parent_defs) == 1
    assert "WHERE" in parent_defs[0] and "parent_key IS NOT NULL" in parent_defs[0]
