"""master data: companies and GS1 company prefixes, locations, suppliers and raw-material
lots, batches and their documents, serialised items and their carriers, orders,
shipments and shipped units, gateways and devices; products gain a company, a brand
story and images (docs/data-model.md)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


# On SQLite batch mode rebuilds `product` (copy, drop, rename). With foreign keys on,
# SQLite refuses to drop a table that rows elsewhere point at, so `product` is altered
# before any new table references it, and on the way down after they are gone.


def upgrade():
    op.create_table('company',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )

    op.create_table('company_prefix',
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('prefix')
    )
    with op.batch_alter_table('company_prefix', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_company_prefix_company_id'), ['company_id'], unique=False)

    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('company_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('brand_story_en', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('brand_story_zh', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('images', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True))
        batch_op.create_index(batch_op.f('ix_product_company_id'), ['company_id'], unique=False)
        batch_op.create_foreign_key('fk_product_company', 'company', ['company_id'], ['id'])

    op.create_table('gateway',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gateway_id', sa.String(length=64), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('gateway_id')
    )
    with op.batch_alter_table('gateway', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_site'), ['site'], unique=False)

    op.create_table('location',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sgln', sa.String(length=200), nullable=False),
    sa.Column('gln', sa.String(length=13), nullable=False),
    sa.Column('extension', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('site', sa.String(length=64), nullable=True),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['location.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('location', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_location_gln'), ['gln'], unique=False)
        batch_op.create_index(batch_op.f('ix_location_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_location_sgln'), ['sgln'], unique=True)
        batch_op.create_index(batch_op.f('ix_location_site'), ['site'], unique=False)

    op.create_table('sales_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('customer_name', sa.String(length=200), nullable=False),
    sa.Column('customer_region', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )

    op.create_table('supplier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('gln', sa.String(length=13), nullable=True),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )

    op.create_table('device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('door', sa.String(length=32), nullable=True),
    sa.Column('read_point', sa.String(length=200), nullable=True),
    sa.Column('biz_location', sa.String(length=200), nullable=True),
    sa.Column('gateway_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['gateway_id'], ['gateway.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('site', 'device_id', name='uq_device_site')
    )
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_gateway_id'), ['gateway_id'], unique=False)

    op.create_table('raw_lot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('supplier_id', sa.Integer(), nullable=False),
    sa.Column('material', sa.String(length=64), nullable=False),
    sa.Column('lot', sa.String(length=40), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=True),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.Column('gtin', sa.String(length=14), nullable=True),
    sa.Column('received', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('supplier_id', 'material', 'lot', name='uq_raw_lot')
    )
    with op.batch_alter_table('raw_lot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_raw_lot_supplier_id'), ['supplier_id'], unique=False)

    op.create_table('shipment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('carrier', sa.String(length=64), nullable=True),
    sa.Column('carrier_tracking', sa.String(length=64), nullable=True),
    sa.Column('tracking_token', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('shipped', sa.DateTime(), nullable=True),
    sa.Column('delivered', sa.DateTime(), nullable=True),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['sales_order.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('shipment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipment_tracking_token'), ['tracking_token'], unique=True)

    op.create_table('batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gtin', sa.String(length=14), nullable=False),
    sa.Column('lot', sa.String(length=20), nullable=False),
    sa.Column('production_date', sa.Date(), nullable=True),
    sa.Column('expiry_date', sa.Date(), nullable=True),
    sa.Column('line_id', sa.Integer(), nullable=True),
    sa.Column('shift', sa.String(length=32), nullable=True),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['gtin'], ['product.gtin'], ),
    sa.ForeignKeyConstraint(['line_id'], ['location.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('gtin', 'lot', name='uq_batch_gtin_lot')
    )
    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_batch_line_id'), ['line_id'], unique=False)

    op.create_table('shipment_unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shipment_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipment.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('shipment_id', 'key', name='uq_shipment_unit')
    )
    with op.batch_alter_table('shipment_unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_unit_key'), ['key'], unique=False)

    op.create_table('batch_raw_lot',
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('raw_lot_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['raw_lot_id'], ['raw_lot.id'], ),
    sa.PrimaryKeyConstraint('batch_id', 'raw_lot_id')
    )
    with op.batch_alter_table('batch_raw_lot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_batch_raw_lot_raw_lot_id'), ['raw_lot_id'], unique=False)

    op.create_table('document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('product_gtin', sa.String(length=14), nullable=True),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('storage_path', sa.String(length=200), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_gtin'], ['product.gtin'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_product_gtin'), ['product_gtin'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_sha256'), ['sha256'], unique=False)

    op.create_table('item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('gtin', sa.String(length=14), nullable=False),
    sa.Column('serial', sa.String(length=20), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('qr_serial', sa.String(length=300), nullable=True),
    sa.Column('nfc_uid', sa.String(length=14), nullable=True),
    sa.Column('nfc_key_ref', sa.String(length=64), nullable=True),
    sa.Column('uhf_epc_hex', sa.String(length=64), nullable=True),
    sa.Column('uhf_epc_uri', sa.String(length=300), nullable=True),
    sa.Column('commissioned', sa.DateTime(), nullable=True),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], ),
    sa.ForeignKeyConstraint(['gtin'], ['product.gtin'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('qr_serial')
    )
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_gtin'), ['gtin'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_key'), ['key'], unique=True)
        batch_op.create_index(batch_op.f('ix_item_nfc_uid'), ['nfc_uid'], unique=True)
        batch_op.create_index(batch_op.f('ix_item_uhf_epc_hex'), ['uhf_epc_hex'], unique=True)
        batch_op.create_index(batch_op.f('ix_item_uhf_epc_uri'), ['uhf_epc_uri'], unique=True)


def downgrade():
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_uhf_epc_uri'))
        batch_op.drop_index(batch_op.f('ix_item_uhf_epc_hex'))
        batch_op.drop_index(batch_op.f('ix_item_nfc_uid'))
        batch_op.drop_index(batch_op.f('ix_item_key'))
        batch_op.drop_index(batch_op.f('ix_item_gtin'))
        batch_op.drop_index(batch_op.f('ix_item_batch_id'))
    op.drop_table('item')

    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_sha256'))
        batch_op.drop_index(batch_op.f('ix_document_product_gtin'))
        batch_op.drop_index(batch_op.f('ix_document_batch_id'))
    op.drop_table('document')

    with op.batch_alter_table('batch_raw_lot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_batch_raw_lot_raw_lot_id'))
    op.drop_table('batch_raw_lot')

    with op.batch_alter_table('shipment_unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_unit_key'))
    op.drop_table('shipment_unit')

    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_batch_line_id'))
    op.drop_table('batch')

    with op.batch_alter_table('shipment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_tracking_token'))
        batch_op.drop_index(batch_op.f('ix_shipment_order_id'))
    op.drop_table('shipment')

    with op.batch_alter_table('raw_lot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_raw_lot_supplier_id'))
    op.drop_table('raw_lot')

    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_gateway_id'))
    op.drop_table('device')

    op.drop_table('supplier')
    op.drop_table('sales_order')

    with op.batch_alter_table('location', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_location_site'))
        batch_op.drop_index(batch_op.f('ix_location_sgln'))
        batch_op.drop_index(batch_op.f('ix_location_parent_id'))
        batch_op.drop_index(batch_op.f('ix_location_gln'))
    op.drop_table('location')

    with op.batch_alter_table('gateway', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_site'))
    op.drop_table('gateway')

    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_constraint('fk_product_company', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_product_company_id'))
        batch_op.drop_column('images')
        batch_op.drop_column('brand_story_zh')
        batch_op.drop_column('brand_story_en')
        batch_op.drop_column('company_id')

    with op.batch_alter_table('company_prefix', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_company_prefix_company_id'))
    op.drop_table('company_prefix')

    op.drop_table('company')
