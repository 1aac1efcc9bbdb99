"""Cloud commands, registered on the Flask app (`flask --app cloud
migrate|ingest|load-master`) and reused by `onecode cloud ...`. Must never hold
application logic."""
import logging
import os
import sys

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


def do_webhooks(app, poll_s=5.0):
    """Run the webhook deliverer until Ctrl-C (cloud.console.webhooks.run_forever)."""
    from cloud.console import webhooks
    from cloud.db import get_db
    webhooks.run_forever(get_db(app).Session, allow_private=bool(app.config.get("WEBHOOK_ALLOW_PRIVATE")),
                         poll_s=poll_s)


def do_load_master(app, path):
    """Load the master-data JSON file at path -> {section: counts}; raises
    cloud.masterdata_check.MasterDataError for a bad file, SQLAlchemyError for the database."""
    from cloud import masterdata
    from cloud.db import get_db
    doc = masterdata.read_document(path)
    return masterdata.load(get_db(app).Session, doc, files_dir=app.config["FILES_DIR"],
                           base_dir=os.path.dirname(os.path.abspath(path)))


def load_master_report(app, path, out=print, err=None):
    """do_load_master with the messages users see (zh and en) -> exit code."""
    from sqlalchemy.exc import SQLAlchemyError

    from cloud.masterdata_check import MasterDataError
    err = err or (lambda msg: print(msg, file=sys.stderr))
    try:
        counts = do_load_master(app, path)
    except MasterDataError as exc:
        err("error: %s" % exc.bilingual())
        return 2
    except SQLAlchemyError as exc:
        detail = str(exc).splitlines()[0]
        err("error: the database refused the master data (is it migrated? `onecode cloud migrate`): %s"
            " / 数据库拒绝写入主数据（是否已执行 onecode cloud migrate？）：%s" % (detail, detail))
        return 1
    for section, c in counts.items():
        if any(c.values()):
            out("%-10s created %d, updated %d, unchanged %d" % (section, c["created"], c["updated"], c["unchanged"]))
    out("master data loaded into %s / 主数据已载入" % app.config["DATABASE_URL"])
    return 0


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

    @app.cli.command("webhooks")
    @click.option("--poll", default=5.0, show_default=True, help="seconds to wait when nothing is due")
    @with_appcontext
    def webhooks_cmd(poll):
        """Send outgoing webhooks (retries, delivery log) until Ctrl-C."""
        logging.basicConfig(level="INFO", format="%(asctime)s webhooks %(levelname)s %(message)s")
        do_webhooks(current_app, poll)

    @app.cli.command("load-master")
    @click.argument("path", type=click.Path(dir_okay=False))
    @with_appcontext
    def load_master_cmd(path):
        """Load (upsert) a master-data JSON file; idempotent."""
        code = load_master_report(current_app, path, out=click.echo,
                                  err=lambda msg: click.echo(msg, err=True))
        if code:
            raise click.exceptions.Exit(code)
