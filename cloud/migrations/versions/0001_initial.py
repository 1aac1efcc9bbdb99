"""initial schema: EPCIS events, their identifiers, capture jobs, ingest batches, products

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 00:59:47.418681
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('capture_job',
    sa.Column('capture_id', sa.String(length=64), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.Column('finished', sa.DateTime(), nullable=True),
    sa.Column('running', sa.Boolean(), nullable=False),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.Column('behaviour', sa.String(length=16), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('stored', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('capture_id')
    )
    op.create_table('epcis_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('event_type', sa.String(length=32), nullable=False),
    sa.Column('event_time', sa.DateTime(), nullable=False),
    sa.Column('tz_offset', sa.String(length=6), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=True),
    sa.Column('biz_step', sa.String(length=100), nullable=True),
    sa.Column('disposition', sa.String(length=100), nullable=True),
    sa.Column('read_point', sa.String(length=200), nullable=True),
    sa.Column('biz_location', sa.String(length=200), nullable=True),
    sa.Column('record_time', sa.DateTime(), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=True),
    sa.Column('gateway', sa.String(length=64), nullable=True),
    sa.Column('batch_id', sa.String(length=64), nullable=True),
    sa.Column('body', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('context', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('capture_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('epcis_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_epcis_event_biz_location'), ['biz_location'], unique=False)
        batch_op.create_index(batch_op.f('ix_epcis_event_biz_step'), ['biz_step'], unique=False)
        batch_op.create_index(batch_op.f('ix_epcis_event_disposition'), ['disposition'], unique=False)
        batch_op.create_index(batch_op.f('ix_epcis_event_event_time'), ['event_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_epcis_event_read_point'), ['read_point'], unique=False)
        batch_op.create_index(batch_op.f('ix_epcis_event_record_time'), ['record_time'], unique=False)

    op.create_table('ingest_batch',
    sa.Column('batch_id', sa.String(length=64), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('gateway', sa.String(length=64), nullable=False),
    sa.Column('received', sa.DateTime(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('stored', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('batch_id')
    )
    op.create_table('nfc_tag',
    sa.Column('uid', sa.String(length=14), nullable=False),
    sa.Column('last_counter', sa.Integer(), nullable=False),
    sa.Column('recent', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('taps', sa.Integer(), nullable=False),
    sa.Column('suspicious_taps', sa.Integer(), nullable=False),
    sa.Column('first_tap', sa.DateTime(), nullable=False),
    sa.Column('last_tap', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('uid')
    )
    op.create_table('product',
    sa.Column('gtin', sa.String(length=14), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('description_en', sa.Text(), nullable=True),
    sa.Column('description_zh', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('gtin')
    )
    op.create_table('event_epc',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_pk', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('epc', sa.String(length=300), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['event_pk'], ['epcis_event.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('event_epc', schema=None) as batch_op:
        batch_op.create_index('event_epc_key_event', ['key', 'role', 'event_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_epc_event_pk'), ['event_pk'], unique=False)



def downgrade():
    with op.batch_alter_table('event_epc', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_epc_event_pk'))
        batch_op.drop_index('event_epc_key_event')

    op.drop_table('event_epc')
    op.drop_table('product')
    op.drop_table('nfc_tag')
    op.drop_table('ingest_batch')
    with op.batch_alter_table('epcis_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_epcis_event_record_time'))
        batch_op.drop_index(batch_op.f('ix_epcis_event_read_point'))
        batch_op.drop_index(batch_op.f('ix_epcis_event_event_time'))
        batch_op.drop_index(batch_op.f('ix_epcis_event_disposition'))
        batch_op.drop_index(batch_op.f('ix_epcis_event_biz_step'))
        batch_op.drop_index(batch_op.f('ix_epcis_event_biz_location'))

    op.drop_table('epcis_event')
    op.drop_table('capture_job')
