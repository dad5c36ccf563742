"""calls without foreign keys (an append-only fact table, references resolved by ingestion);
free minutes: the seconds of a call they paid for, and each caller's use per month

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
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
        batch_op.add_column(
            sa.Column("free_seconds", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.alter_column("free_seconds", server_default=None)
    op.create_table(
        "free_minutes_usage",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("sub_account_id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_free_minutes_usage_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["packages.id"],
            name=op.f("fk_free_minutes_usage_package_id_packages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_free_minutes_usage")),
        sa.UniqueConstraint(
            "client_id",
            "sub_account_id",
            "package_id",
            "month",
            name=op.f("uq_free_minutes_usage_client_id_sub_account_id_package_id_month"),
        ),
    )


def downgrade() -> None:
    op.drop_table("free_minutes_usage")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("free_seconds")
        for name, table, column in FOREIGN_KEYS:
            batch_op.create_foreign_key(name, table, [column], ["id"])
