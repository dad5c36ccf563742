"""recurring fees: fee_charges (every monthly and setup fee charged), billing-date indexes

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 08:09:11.690653
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fee_charges',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subject_type', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('payer', sa.String(length=40), nullable=False),
    sa.Column('reseller_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('client_amount', sa.BigInteger(), nullable=False),
    sa.Column('reseller_cost', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_fee_charges_client_id_clients')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_fee_charges_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['reseller_id'], ['resellers.id'], name=op.f('fk_fee_charges_reseller_id_resellers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fee_charges')),
    sa.UniqueConstraint('subject_type', 'subject_id', 'kind', 'period_start', 'payer', name=op.f('uq_fee_charges_subject_type_subject_id_kind_period_start_payer'))
    )
    with op.batch_alter_table('fee_charges', schema=None) as batch_op:
        batch_op.create_index('ix_fee_charges_client_id_id', ['client_id', 'id'], unique=False)
        batch_op.create_index('ix_fee_charges_client_id_invoice_id', ['client_id', 'invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fee_charges_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index('ix_fee_charges_reseller_id_id', ['reseller_id', 'id'], unique=False)

    with op.batch_alter_table('dids', schema=None) as batch_op:
        batch_op.create_index('ix_dids_client_next_billing_date', ['client_next_billing_date'], unique=False)
        batch_op.create_index('ix_dids_reseller_next_billing_date', ['reseller_next_billing_date'], unique=False)

    with op.batch_alter_table('sub_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billing_day', sa.SmallInteger(), nullable=True))
        batch_op.create_index('ix_sub_accounts_next_billing_date', ['next_billing_date'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sub_accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_sub_accounts_next_billing_date')
        batch_op.drop_column('billing_day')

    with op.batch_alter_table('dids', schema=None) as batch_op:
        batch_op.drop_index('ix_dids_reseller_next_billing_date')
        batch_op.drop_index('ix_dids_client_next_billing_date')

    with op.batch_alter_table('fee_charges', schema=None) as batch_op:
        batch_op.drop_index('ix_fee_charges_reseller_id_id')
        batch_op.drop_index(batch_op.f('ix_fee_charges_entry_id'))
        batch_op.drop_index('ix_fee_charges_client_id_invoice_id')
        batch_op.drop_index('ix_fee_charges_client_id_id')

    op.drop_table('fee_charges')
