"""calls: no index of their own on sub_account_id

A sub-account's calls are found through its client's index (``ix_calls_client_started``), so
every stored call maintains one index fewer.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 11:05:00.000000
"""

from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_sub_account_id')


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index('ix_calls_sub_account_id', ['sub_account_id'], unique=False)
