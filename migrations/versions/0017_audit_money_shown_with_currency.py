"""Audit history: money recorded as micro-units before this revision is rewritten as an amount
with its currency, as events recorded from now on are (``api.domain.audit.MONEY_FIELDS``)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 09:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

from api import money

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# the money fields as they were at this revision (a migration does not follow later changes)
MONEY_FIELDS = frozenset(
    {
        "credit_limit",
        "credit_limit_step",
        "low_balance_threshold",
        "markup_fixed",
        "monthly_fee",
        "setup_fee",
        "monthly_price",
        "setup_price",
        "unit_price",
    }
)
events = sa.table(
    'audit_events',
    sa.column('id', sa.BigInteger),
    sa.column('reseller_id', sa.Integer),
    sa.column('before', sa.JSON),
    sa.column('after', sa.JSON),
)
resellers = sa.table('resellers', sa.column('id', sa.Integer), sa.column('currency', sa.String))


def _micros(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(values, currency):
    if not isinstance(values, dict) or not any(k in MONEY_FIELDS and _micros(v) for k, v in values.items()):
        return None
    return {
        k: {"amount": money.format_amount(v), "currency": currency}
        if k in MONEY_FIELDS and _micros(v)
        else v
        for k, v in values.items()
    }


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(events.c.id, events.c.before, events.c.after, resellers.c.currency)
        .select_from(events.outerjoin(resellers, resellers.c.id == events.c.reseller_id))
    ).all()
    for row in rows:
        before, after = _shown(row.before, row.currency), _shown(row.after, row.currency)
        if before is None and after is None:
            continue
        bind.execute(
            events.update()
            .where(events.c.id == row.id)
            .values(before=before or row.before, after=after or row.after)
        )


def downgrade() -> None:
    pass  # the amounts stay readable; micro-units are not brought back
