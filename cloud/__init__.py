"""OneCode cloud: the Flask application (pages, APIs) and its CLI commands.

`create_app(config)` builds an app; every subsystem is attached with init_app. The
ingest worker lives in cloud.ingest and shares the database layer. Must never
create tables outside the migrations.
"""
import json
import os

from flask import Flask

from cloud.db import DEFAULT_URL, Database
from cloud.filestore import DEFAULT_FILES_DIR


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(
        DATABASE_URL=os.environ.get("DATABASE_URL", DEFAULT_URL),
        MQTT_URL=os.environ.get("ONECODE_CLOUD_BROKER", "mqtt://127.0.0.1:1883"),
        DEFAULT_LANG=os.environ.get("ONECODE_DEFAULT_LANG", "zh"),
        NFC_MASTER_KEY=os.environ.get("ONECODE_NFC_MASTER_KEY", ""),  # hex; never commit a real one
        NFC_ALLOW_TEST_KEYS=False,
        API_TOKEN=os.environ.get("ONECODE_API_TOKEN", ""),  # operator/integration APIs (trace)
        FILES_DIR=os.environ.get("ONECODE_FILES_DIR", DEFAULT_FILES_DIR),  # QC reports, certificates, images
    )
    # a JSON file of the same keys, for deployments that prefer files to variables
    if os.environ.get("ONECODE_CLOUD_CONFIG"):
        app.config.from_file(os.environ["ONECODE_CLOUD_CONFIG"], load=json.load)
    if config:
        app.config.update(config)
    Database(app.config["DATABASE_URL"]).init_app(app)
    from cloud import master  # noqa: F401 - its tables complete the metadata the app maps

    from cloud import i18n
    i18n.init_app(app)

    from cloud import consumer  # item/lot/pallet pages, /track, /doc, security headers, rate limit
    consumer.init_app(app)

    from cloud.epcis_api import bp as epcis_bp
    app.register_blueprint(epcis_bp)

    from cloud.trace_api import bp as trace_bp
    app.register_blueprint(trace_bp)

    from cloud import console  # operators' pages under /console
    console.init_app(app)

    from cloud import cli
    cli.init_app(app)
    return app
