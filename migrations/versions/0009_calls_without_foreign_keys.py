"""calls without foreign keys (an append-only fact table, references resolved by ingestion)

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-01 08:00:00
"""

from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None

FOREIGN_KEYS = (
    ("fk_calls_client_id_clients", "clients", "client_id"),
    ("fk_calls_entry_id_ledger_entries", "ledger_entries", "entry_id"),
    ("fk_calls_reseller_id_resellers", "resellers", "reseller_id"),
    ("fk_calls_sub_account_id_sub_accounts", "sub_accounts", "sub_account_id"),
)


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        for name, _, _ in FOREIGN_KEYS:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        for name, table, column in FOREIGN_KEYS:
            batch_op.create_foreign_key(name, table, [column], ["id"])
