"""tests/security: hostile input against every parser and endpoint (docs/security.md).
The cloud tests here run on SQLite only (the behaviours under test do not depend on
the database; tests/cloud runs every store path on both). `hostile.py` (on sys.path:
pytest puts this folder there) holds the example counts and the payloads."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)   # tools.fuzz

import pytest  # noqa: E402

CLOUD_TESTS = os.path.join(ROOT, "tests", "cloud")
if CLOUD_TESTS not in sys.path:
    sys.path.append(CLOUD_TESTS)   # consumer_story, console_support


@pytest.fixture(scope="module")
def cloud_app(tmp_path_factory):
    """One migrated SQLite cloud per test module, seeded with the consumer story
    (tests/cloud/consumer_story.py: items, lots, a pallet, shipment SH-1), a second
    shipment SH-2 for carrier events, and the NFC master key (item 1 has a tag)."""
    import consumer_story as story
    from hostile import NFC_MASTER

    from cloud import create_app, masterdata
    from cloud.cli import do_migrate
    from cloud.db import get_db
    tmp = tmp_path_factory.mktemp("cloud")
    url = "sqlite:///%s" % (tmp / "cloud.db")
    do_migrate(url)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "NFC_MASTER_KEY": NFC_MASTER.hex()})
    app.config["FILES_DIR"] = story.seed(get_db(app).Session, tmp)
    masterdata.load(get_db(app).Session, {
        "orders": [{"number": "SO-2", "customer_name": "Hangzhou Tea Shop", "customer_region": "CN-33"}],
        "shipments": [{"number": "SH-2", "order": "SO-2", "carrier": "SF Express", "carrier_tracking": "SF7654321",
                       "status": "created"}]}, files_dir=app.config["FILES_DIR"], base_dir=str(tmp))
    yield app
    get_db(app).dispose()


@pytest.fixture
def client(cloud_app):
    return cloud_app.test_client()
