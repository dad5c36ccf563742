"""dids: the operator's number inventory, ordered by resellers, assigned to clients

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 07:55:25.409473
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('city', sa.String(length=200), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('monthly_cost', sa.BigInteger(), nullable=False),
    sa.Column('setup_cost', sa.BigInteger(), nullable=False),
    sa.Column('inbound_rate', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reseller_id', sa.Integer(), nullable=True),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('sub_account_id', sa.Integer(), nullable=True),
    sa.Column('routing', sa.String(length=16), nullable=False),
    sa.Column('forward_to', sa.String(length=32), nullable=False),
    sa.Column('monthly_price', sa.BigInteger(), nullable=False),
    sa.Column('setup_price', sa.BigInteger(), nullable=False),
    sa.Column('reseller_next_billing_date', sa.Date(), nullable=True),
    sa.Column('reseller_setup_fee_charged', sa.Boolean(), nullable=False),
    sa.Column('client_next_billing_date', sa.Date(), nullable=True),
    sa.Column('client_setup_fee_charged', sa.Boolean(), nullable=False),
    sa.Column('order_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('ordered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_dids_client_id_clients')),
    sa.ForeignKeyConstraint(['order_entry_id'], ['ledger_entries.id'], name=op.f('fk_dids_order_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['reseller_id'], ['resellers.id'], name=op.f('fk_dids_reseller_id_resellers')),
    sa.ForeignKeyConstraint(['sub_account_id'], ['sub_accounts.id'], name=op.f('fk_dids_sub_account_id_sub_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dids')),
    sa.UniqueConstraint('number', name=op.f('uq_dids_number'))
    )
    op.create_index(op.f('ix_dids_client_id'), 'dids', ['client_id'], unique=False)
    op.create_index(op.f('ix_dids_reseller_id'), 'dids', ['reseller_id'], unique=False)
    op.create_index('ix_dids_status_country', 'dids', ['status', 'country', 'id'], unique=False)
    op.create_index(op.f('ix_dids_sub_account_id'), 'dids', ['sub_account_id'], unique=False)



def downgrade() -> None:
    op.drop_index(op.f('ix_dids_sub_account_id'), table_name='dids')
    op.drop_index('ix_dids_status_country', table_name='dids')
    op.drop_index(op.f('ix_dids_reseller_id'), table_name='dids')
    op.drop_index(op.f('ix_dids_client_id'), table_name='dids')
    op.drop_table('dids')
