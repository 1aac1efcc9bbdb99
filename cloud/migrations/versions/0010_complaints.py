"""complaints about an item or a lot (cloud/console/complaint_models.py)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('complaint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received', sa.DateTime(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=300), nullable=False),
    sa.Column('code_kind', sa.String(length=8), nullable=False),
    sa.Column('lot_key', sa.String(length=300), nullable=True),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_note', sa.Text(), nullable=True),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('updated', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['operator.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_code'), ['code'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_lot_key'), ['lot_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_received'), ['received'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_status'), ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_status'))
        batch_op.drop_index(batch_op.f('ix_complaint_received'))
        batch_op.drop_index(batch_op.f('ix_complaint_lot_key'))
        batch_op.drop_index(batch_op.f('ix_complaint_code'))
        batch_op.drop_index(batch_op.f('ix_complaint_category'))

    op.drop_table('complaint')
