"""login as client: who opened a client's session, and who acted through it

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-07 13:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('impersonator_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_user_sessions_impersonator_id_users'), 'users', ['impersonator_id'], ['id']
        )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('impersonator_id', sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column('impersonator_label', sa.String(length=320), server_default='', nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('impersonator_label')
        batch_op.drop_column('impersonator_id')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_user_sessions_impersonator_id_users'), type_='foreignkey')
        batch_op.drop_column('impersonator_id')
