"""Apply (or inspect) the cloud database migrations with Alembic, programmatically.
Must never be bypassed by create_all on a real database."""
import os

from alembic import command
from alembic.config import Config

from cloud.db import normalise_url

HERE = os.path.dirname(os.path.abspath(__file__))


def alembic_config(url):
    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(HERE, "migrations"))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url, revision="head"):
    command.upgrade(alembic_config(url), revision)


def current(url):
    from alembic.runtime.migration import MigrationContext

    from cloud.db import make_engine
    engine = make_engine(url)
    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
    engine.dispose()
    return rev


def head():
    """The newest revision the migrations know."""
    from alembic.script import ScriptDirectory
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
