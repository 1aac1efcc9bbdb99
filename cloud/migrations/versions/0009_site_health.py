"""site health: each gateway's latest status and the batches the ingest refused
(cloud/site_health.py)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 08:21:54.629939
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('gateway_status',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('gateway_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('received', sa.DateTime(), nullable=False),
    sa.Column('cloud_link', sa.String(length=8), nullable=True),
    sa.Column('outbox_events', sa.Integer(), nullable=True),
    sa.Column('outbox_oldest_s', sa.Float(), nullable=True),
    sa.Column('outbox_in_flight', sa.Integer(), nullable=True),
    sa.Column('outbox_dead', sa.Integer(), nullable=True),
    sa.Column('alarms', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('devices', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('site', 'gateway_id')
    )
    op.create_table('ingest_rejection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('gateway_id', sa.String(length=64), nullable=False),
    sa.Column('batch_id', sa.String(length=64), nullable=True),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('events', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ingest_rejection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ingest_rejection_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ingest_rejection_site'), ['site'], unique=False)



def downgrade():
    with op.batch_alter_table('ingest_rejection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ingest_rejection_site'))
        batch_op.drop_index(batch_op.f('ix_ingest_rejection_at'))

    op.drop_table('ingest_rejection')
    op.drop_table('gateway_status')
