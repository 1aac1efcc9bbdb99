"""location address and phone (the FSMA 204 location description); login attempts by name

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 14:40:00

21 CFR 1.1310 describes a location by business name, phone number and physical
address; the FSMA 204 sheet (cloud.console.fsma_context.Places) shows both.

The console's lockout counts a username's failed attempts whether or not the account
exists (so a locked answer does not tell who has one): an index by (username, at).
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('location') as batch:
        batch.add_column(sa.Column('address', sa.String(length=300), nullable=True))
        batch.add_column(sa.Column('phone', sa.String(length=40), nullable=True))
    op.create_index('ix_login_attempt_username_at', 'login_attempt', ['username', 'at'])


def downgrade():
    op.drop_index('ix_login_attempt_username_at', table_name='login_attempt')
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+ too): a batch copy of `location`
    # would drop a table that batch, device and its own rows still point to
    op.drop_column('location', 'phone')
    op.drop_column('location', 'address')
