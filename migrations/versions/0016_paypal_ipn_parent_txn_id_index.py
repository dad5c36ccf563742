"""PayPal IPN messages indexed by the payment they correct (parent_txn_id): a credit looks up
the refunds, reversals and canceled reversals that waited for it in its own transaction

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 03:05:00.000000
"""

from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('paypal_ipn_messages', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_paypal_ipn_messages_parent_txn_id'), ['parent_txn_id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('paypal_ipn_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_paypal_ipn_messages_parent_txn_id'))
