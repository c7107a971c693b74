"""indexes over failed sign-ins, for sign-in throttling

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-27 12:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

FAILED_SIGN_IN = sa.text("action = 'auth.sign_in' AND result = 'failed'")
INDEXES = {'ix_audit_events_failed_sign_in_ip': ['ip', 'at'],
           'ix_audit_events_failed_sign_in_actor': ['actor_id', 'at']}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, 'audit_events', columns, unique=False,
                        sqlite_where=FAILED_SIGN_IN, postgresql_where=FAILED_SIGN_IN)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='audit_events')
