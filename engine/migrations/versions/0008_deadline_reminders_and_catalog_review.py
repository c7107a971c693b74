"""deadline reminders and catalog review

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 02:04:55.259814
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('remind_at', engine.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminded_at', engine.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('escalated_at', engine.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_human_tasks_due', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_human_tasks_remind', ['status', 'remind_at'], unique=False)

    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_interval_days', sa.Integer(), server_default='180', nullable=False))
        batch_op.add_column(sa.Column('reviewed_at', engine.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('review_reminded_at', engine.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_column('review_reminded_at')
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('review_interval_days')

    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_human_tasks_remind')
        batch_op.drop_index('ix_human_tasks_due')
        batch_op.drop_column('escalated_at')
        batch_op.drop_column('reminded_at')
        batch_op.drop_column('remind_at')

