"""epc_state's parent index holds only items that have a parent

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 11:40:00

Every state upsert sets parent_key, so the database rewrote the index entry of every
identifier an event named, loose items included (all under NULL, in key order: one
dirty page per few items per batch). Lookups are parent_key = X, which a partial
index WHERE parent_key IS NOT NULL answers on SQLite and PostgreSQL alike.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('epc_state_parent', 'epc_state', ['parent_key'], unique=False,
                    sqlite_where=sa.text('parent_key IS NOT NULL'), postgresql_where=sa.text('parent_key IS NOT NULL'))
    op.drop_index('ix_epc_state_parent_key', table_name='epc_state')


def downgrade():
    op.create_index('ix_epc_state_parent_key', 'epc_state', ['parent_key'], unique=False)
    op.drop_index('epc_state_parent', table_name='epc_state')
