"""notice subscriptions

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 04:50:00
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('subscriptions',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('topic', sa.String(length=80), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_subscriptions_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'topic', 'channel', name=op.f('pk_subscriptions'))
    )


def downgrade() -> None:
    op.drop_table('subscriptions')
