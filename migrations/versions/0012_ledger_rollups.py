"""ledger rollups: postings summed per account, UTC day, entry kind, reseller and client;
call rollups indexed by reseller and day

Existing postings are rolled up by the migration, so the rollups equal the ledger from the
start.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 08:28:37.855626
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger_rollups',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('reseller_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('postings', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_ledger_rollups_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_rollups')),
    sa.UniqueConstraint('reseller_id', 'day', 'account_id', 'kind', 'client_id', name=op.f('uq_ledger_rollups_reseller_id_day_account_id_kind_client_id'))
    )
    with op.batch_alter_table('ledger_rollups', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_rollups_day', ['day'], unique=False)

    with op.batch_alter_table('call_rollups', schema=None) as batch_op:
        batch_op.create_index('ix_call_rollups_reseller_id_day', ['reseller_id', 'day'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        day = "(e.created_at AT TIME ZONE 'UTC')::date"
    else:
        day = 'date(e.created_at)'
    op.execute(
        'INSERT INTO ledger_rollups (reseller_id, day, account_id, kind, client_id, amount, postings)'
        f' SELECT coalesce(e.reseller_id, 0), {day}, p.account_id, e.kind, coalesce(e.client_id, 0),'
        ' sum(p.amount), count(*) FROM postings p JOIN ledger_entries e ON e.id = p.entry_id'
        f' GROUP BY p.account_id, {day}, e.kind, coalesce(e.reseller_id, 0), coalesce(e.client_id, 0)'
    )


def downgrade() -> None:
    with op.batch_alter_table('call_rollups', schema=None) as batch_op:
        batch_op.drop_index('ix_call_rollups_reseller_id_day')

    with op.batch_alter_table('ledger_rollups', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_rollups_day')

    op.drop_table('ledger_rollups')
