"""scheduled runs

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 02:10:51.559688
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scheduled_runs',
    sa.Column('job', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('last_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('job', 'key', name=op.f('pk_scheduled_runs'))
    )


def downgrade() -> None:
    op.drop_table('scheduled_runs')
