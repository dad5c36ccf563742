"""invoices: invoices, their lines, documents and the payments that settled them; price lists
and their items; clients' tax rates; resellers' tax rate, credit limit step and invoice numbers;
clients' invoiced-until moment, payment terms, price list and discount

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 08:42:56.034603
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('price_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reseller_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('is_basic', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reseller_id'], ['resellers.id'], name=op.f('fk_price_lists_reseller_id_resellers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_lists')),
    sa.UniqueConstraint('reseller_id', 'name', name=op.f('uq_price_lists_reseller_id_name'))
    )
    with op.batch_alter_table('price_lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_lists_reseller_id'), ['reseller_id'], unique=False)

    op.create_table('price_list_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('price_list_id', sa.Integer(), nullable=False),
    sa.Column('reseller_id', sa.Integer(), nullable=False),
    sa.Column('article_number', sa.String(length=40), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['price_list_id'], ['price_lists.id'], name=op.f('fk_price_list_items_price_list_id_price_lists')),
    sa.ForeignKeyConstraint(['reseller_id'], ['resellers.id'], name=op.f('fk_price_list_items_reseller_id_resellers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_list_items')),
    sa.UniqueConstraint('price_list_id', 'article_number', name=op.f('uq_price_list_items_price_list_id_article_number'))
    )
    with op.batch_alter_table('price_list_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_list_items_price_list_id'), ['price_list_id'], unique=False)

    op.create_table('client_tax_rates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('rate_pct', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_client_tax_rates_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_tax_rates'))
    )
    with op.batch_alter_table('client_tax_rates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_tax_rates_client_id'), ['client_id'], unique=False)

    op.create_table('invoices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reseller_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('credits_invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('number', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('charged', sa.BigInteger(), nullable=False),
    sa.Column('subtotal', sa.BigInteger(), nullable=False),
    sa.Column('tax', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('paid', sa.BigInteger(), nullable=False),
    sa.Column('adjustment_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_invoices_client_id_clients')),
    sa.ForeignKeyConstraint(['credits_invoice_id'], ['invoices.id'], name=op.f('fk_invoices_credits_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['reseller_id'], ['resellers.id'], name=op.f('fk_invoices_reseller_id_resellers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('reseller_id', 'number', name=op.f('uq_invoices_reseller_id_number'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index('ix_invoices_client_id_status', ['client_id', 'status'], unique=False)
        batch_op.create_index('ix_invoices_reseller_id_id', ['reseller_id', 'id'], unique=False)
        batch_op.create_index('ix_invoices_status_due_at', ['status', 'due_at'], unique=False)

    op.create_table('invoice_documents',
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_documents_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('invoice_id', name=op.f('pk_invoice_documents'))
    )
    op.create_table('invoice_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('article_number', sa.String(length=40), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=20, scale=6), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('tax_pct', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('tax', sa.BigInteger(), nullable=False),
    sa.Column('charged', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_lines_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines'))
    )
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_lines_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('invoice_payments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_invoice_payments_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_payments_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_payments')),
    sa.UniqueConstraint('invoice_id', 'entry_id', name=op.f('uq_invoice_payments_invoice_id_entry_id'))
    )
    with op.batch_alter_table('invoice_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_payments_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoice_payments_invoice_id'), ['invoice_id'], unique=False)

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invoiced_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('invoice_due_days', sa.Integer(), server_default='14', nullable=False))
        batch_op.add_column(sa.Column('overdue_block_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('price_list_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('discount_pct', sa.Numeric(precision=7, scale=4), server_default='0', nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_clients_price_list_id_price_lists'), 'price_lists', ['price_list_id'], ['id'])

    with op.batch_alter_table('fee_charges', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_fee_charges_invoice_id_invoices'), 'invoices', ['invoice_id'], ['id'])

    with op.batch_alter_table('resellers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tax_rate_pct', sa.Numeric(precision=7, scale=4), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('credit_limit_step', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('invoice_sequence', sa.BigInteger(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('resellers', schema=None) as batch_op:
        batch_op.drop_column('invoice_sequence')
        batch_op.drop_column('credit_limit_step')
        batch_op.drop_column('tax_rate_pct')

    with op.batch_alter_table('fee_charges', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_fee_charges_invoice_id_invoices'), type_='foreignkey')

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_clients_price_list_id_price_lists'), type_='foreignkey')
        batch_op.drop_column('discount_pct')
        batch_op.drop_column('price_list_id')
        batch_op.drop_column('overdue_block_days')
        batch_op.drop_column('invoice_due_days')
        batch_op.drop_column('invoiced_until')

    with op.batch_alter_table('invoice_payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_payments_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_invoice_payments_entry_id'))

    op.drop_table('invoice_payments')
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_lines_invoice_id'))

    op.drop_table('invoice_lines')
    op.drop_table('invoice_documents')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_status_due_at')
        batch_op.drop_index('ix_invoices_reseller_id_id')
        batch_op.drop_index('ix_invoices_client_id_status')

    op.drop_table('invoices')
    with op.batch_alter_table('client_tax_rates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_tax_rates_client_id'))

    op.drop_table('client_tax_rates')
    with op.batch_alter_table('price_list_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_list_items_price_list_id'))

    op.drop_table('price_list_items')
    with op.batch_alter_table('price_lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_lists_reseller_id'))

    op.drop_table('price_lists')
