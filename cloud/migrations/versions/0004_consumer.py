"""consumer pages: how often each code was checked (table code_check, cloud/consumer_models.py)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('code_check',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('checks', sa.Integer(), nullable=False),
    sa.Column('first_check', sa.DateTime(), nullable=False),
    sa.Column('last_check', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade():
    op.drop_table('code_check')
