"""carrier API and verification signals: tables carrier_token, carrier_event,
shipment_promise (cloud/carrier_models.py) and verification_signal
(cloud/consumer_models.py)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('carrier_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('carrier', sa.String(length=64), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256')
    )
    with op.batch_alter_table('carrier_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_carrier_token_carrier'), ['carrier'], unique=False)

    op.create_table('carrier_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shipment_id', sa.Integer(), nullable=False),
    sa.Column('carrier', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('event_time', sa.DateTime(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('event_hash', sa.String(length=64), nullable=False),
    sa.Column('received', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipment.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_hash')
    )
    with op.batch_alter_table('carrier_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_carrier_event_shipment_id'), ['shipment_id'], unique=False)

    op.create_table('shipment_promise',
    sa.Column('shipment_id', sa.Integer(), nullable=False),
    sa.Column('promised', sa.DateTime(), nullable=False),
    sa.Column('updated', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipment.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shipment_id')
    )

    op.create_table('verification_signal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('expected', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', 'kind', 'region')
    )
    with op.batch_alter_table('verification_signal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verification_signal_last_seen'), ['last_seen'], unique=False)


def downgrade():
    op.drop_table('verification_signal')
    op.drop_table('shipment_promise')
    op.drop_table('carrier_event')
    op.drop_table('carrier_token')
