"""Cloud commands, registered on the Flask app (`flask --app cloud migrate|ingest`)
and reused by `onecode cloud ...`. Must never hold application logic."""
import logging

import click
from flask import current_app
from flask.cli import with_appcontext

from onecode import wire


def do_migrate(url):
    from cloud import migrate
    migrate.upgrade(url)
    return migrate.current(url)


def do_ingest(app, broker_url, shared_group):
    from cloud.db import get_db
    from cloud.ingest import IngestWorker
    IngestWorker(get_db(app), broker_url, shared_group).run_forever()


def init_app(app):
    @app.cli.command("migrate")
    @with_appcontext
    def migrate_cmd():
        """Apply database migrations."""
        rev = do_migrate(current_app.config["DATABASE_URL"])
        click.echo("database at revision %s" % rev)

    @app.cli.command("ingest")
    @click.option("--broker", default=None, help="cloud MQTT broker URL")
    @click.option("--shared-group", default=wire.SHARED_GROUP, help="'' for no shared subscription")
    @with_appcontext
    def ingest_cmd(broker, shared_group):
        """Run the ingest worker until Ctrl-C."""
        logging.basicConfig(level="INFO", format="%(asctime)s ingest %(levelname)s %(message)s")
        do_ingest(current_app, broker or current_app.config["MQTT_URL"], shared_group)
