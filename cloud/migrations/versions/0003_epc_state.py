"""derived current state per EPC, containment history, containers per lot, business transactions of events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 03:20:00

Existing events are replayed into epc_state and event_biz_tx in event-time order, so
a database migrated from 0002 has the same state as one that ingested everything
after 0003.
"""
import json

from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('epc_state',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('epc', sa.String(length=300), nullable=False),
    sa.Column('first_time', sa.DateTime(), nullable=False),
    sa.Column('last_time', sa.DateTime(), nullable=False),
    sa.Column('last_event', sa.Integer(), nullable=False),
    sa.Column('last_biz_step', sa.String(length=100), nullable=True),
    sa.Column('read_point', sa.String(length=200), nullable=True),
    sa.Column('biz_location', sa.String(length=200), nullable=True),
    sa.Column('where_time', sa.DateTime(), nullable=True),
    sa.Column('disposition', sa.String(length=100), nullable=True),
    sa.Column('disposition_time', sa.DateTime(), nullable=True),
    sa.Column('parent_key', sa.String(length=300), nullable=True),
    sa.Column('parent_time', sa.DateTime(), nullable=True),
    sa.Column('emptied_time', sa.DateTime(), nullable=True),
    sa.Column('lot_key', sa.String(length=300), nullable=True),
    sa.PrimaryKeyConstraint('key'),
    sqlite_with_rowid=False
    )
    op.create_index('epc_state_lot_cover', 'epc_state', ['lot_key', 'parent_key', 'where_time', 'biz_location',
                    'read_point', 'disposition', 'key'], unique=False, sqlite_where=sa.text('lot_key IS NOT NULL'),
                    postgresql_where=sa.text('lot_key IS NOT NULL'))
    op.create_table('epc_containment',
    sa.Column('parent_key', sa.String(length=300), nullable=False),
    sa.Column('child_key', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('parent_key', 'child_key'),
    sqlite_with_rowid=False
    )
    op.create_index(op.f('ix_epc_containment_child_key'), 'epc_containment', ['child_key'], unique=False)
    op.create_table('lot_container',
    sa.Column('lot_key', sa.String(length=300), nullable=False),
    sa.Column('parent_key', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('lot_key', 'parent_key'),
    sqlite_with_rowid=False
    )
    op.create_index(op.f('ix_epc_state_parent_key'), 'epc_state', ['parent_key'], unique=False)
    op.create_table('event_biz_tx',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_pk', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=True),
    sa.Column('value', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['event_pk'], ['epcis_event.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_event_biz_tx_event_pk'), 'event_biz_tx', ['event_pk'], unique=False)
    op.create_index(op.f('ix_event_biz_tx_value'), 'event_biz_tx', ['value'], unique=False)
    _replay_events()


def _replay_events():
    from sqlalchemy.orm import Session

    from cloud import state
    from cloud.store import biz_tx_rows, parse_time
    s = Session(bind=op.get_bind())
    last_id = -1
    while True:
        rows = s.execute(sa.text("SELECT id, event_time, body FROM epcis_event WHERE id > :last "
                                 "ORDER BY id LIMIT 2000"), {"last": last_id}).all()
        if not rows:
            break
        pending, tx = state.Pending(), []
        for pk, _t, body in rows:
            if isinstance(body, str):  # SQLite hands JSON back as text through text()
                body = json.loads(body)
            pending.add(body, pk, parse_time(body["eventTime"]))
            tx.extend(biz_tx_rows(body, pk))
        state.apply(s, pending)
        if tx:
            s.execute(sa.text("INSERT INTO event_biz_tx (event_pk, type, value) VALUES (:event_pk, :type, :value)"), tx)
        last_id = rows[-1][0]
    s.flush()


def downgrade():
    op.drop_index(op.f('ix_event_biz_tx_value'), table_name='event_biz_tx')
    op.drop_index(op.f('ix_event_biz_tx_event_pk'), table_name='event_biz_tx')
    op.drop_table('event_biz_tx')
    op.drop_index(op.f('ix_epc_state_parent_key'), table_name='epc_state')
    op.drop_table('lot_container')
    op.drop_index(op.f('ix_epc_containment_child_key'), table_name='epc_containment')
    op.drop_table('epc_containment')
    op.drop_index('epc_state_lot_cover', table_name='epc_state')
    op.drop_table('epc_state')
