"""case and task tallies for reports

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 04:20:00
"""
from alembic import op
import sqlalchemy as sa

from engine import tallies


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_tallies',
    sa.Column('agency_code', sa.String(length=40), nullable=False),
    sa.Column('service_key', sa.String(length=40), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('outcome', sa.String(length=8), nullable=False),
    sa.Column('owner', sa.Boolean(), nullable=False),
    sa.Column('channel', sa.String(length=12), nullable=False),
    sa.Column('hours', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('fields', sa.Integer(), nullable=False),
    sa.Column('automatic_fields', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('agency_code', 'service_key', 'opened_on', 'outcome', 'owner', 'channel', 'hours',
                            name=op.f('pk_case_tallies'))
    )
    op.create_table('task_tallies',
    sa.Column('agency_code', sa.String(length=40), nullable=False),
    sa.Column('service_key', sa.String(length=40), nullable=False),
    sa.Column('stage', sa.String(length=120), nullable=False),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('outcome', sa.String(length=8), nullable=False),
    sa.Column('hours', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('agency_code', 'service_key', 'stage', 'created_on', 'outcome', 'hours',
                            name=op.f('pk_task_tallies'))
    )
    op.create_index('ix_cases_status_opened', 'cases', ['status', 'opened_at'], unique=False)
    tallies.rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_index('ix_cases_status_opened', table_name='cases')
    op.drop_table('task_tallies')
    op.drop_table('case_tallies')
