"""invoices claim the ledger entries of the calls they bill: invoice_entries, each client's
floor of claimed entries, calls indexed by their entry

Existing invoices billed calls by the time they started; each `calls` entry posted before the
end of one of its client's invoices is recorded as claimed by the first such invoice, so no
call already billed is billed again. Entries posted after a client's last invoice stay
unclaimed: its next draft bills them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 11:14:48.095684
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('invoice_entries',
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_invoice_entries_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_entries_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_invoice_entries'))
    )
    with op.batch_alter_table('invoice_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_entries_invoice_id'), ['invoice_id'], unique=False)

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index('ix_calls_entry_id', ['entry_id'], unique=False)

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invoice_entry_floor', sa.BigInteger(), server_default='0', nullable=False))

    op.execute(
        'INSERT INTO invoice_entries (entry_id, invoice_id)'
        ' SELECT e.id, min(i.id) FROM ledger_entries e'
        " JOIN invoices i ON i.client_id = e.client_id AND i.kind = 'invoice'"
        ' AND i.period_end > e.created_at'
        " WHERE e.kind = 'calls' AND e.amount <> 0"
        ' GROUP BY e.id'
    )


def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('invoice_entry_floor')

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_entry_id')

    with op.batch_alter_table('invoice_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_entries_invoice_id'))

    op.drop_table('invoice_entries')
