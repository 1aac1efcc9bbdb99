"""recall register: recalls and mock recalls run from the console
(cloud/console/recall_models.py)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 09:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('recall',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('target_kind', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=300), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('computation', sa.String(length=64), nullable=False),
    sa.Column('counts', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['operator_id'], ['operator.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('recall', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recall_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_recall_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_recall_target'), ['target'], unique=False)


def downgrade():
    with op.batch_alter_table('recall', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recall_target'))
        batch_op.drop_index(batch_op.f('ix_recall_kind'))
        batch_op.drop_index(batch_op.f('ix_recall_at'))

    op.drop_table('recall')
