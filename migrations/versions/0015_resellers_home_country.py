"""resellers' home country: how the numbers their clients dial are read

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 02:55:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('resellers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('home_country', sa.String(length=2), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('resellers', schema=None) as batch_op:
        batch_op.drop_column('home_country')
