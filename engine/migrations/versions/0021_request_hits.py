"""requests counted against rate limits, shared by every web process

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-27 13:00:00
"""
from alembic import op
import sqlalchemy as sa

import engine.db


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('request_hits',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.String(length=32), nullable=False),
    sa.Column('at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_hits'))
    )
    op.create_index('ix_request_hits_subject', 'request_hits', ['scope', 'subject', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_request_hits_subject', table_name='request_hits')
    op.drop_table('request_hits')
