"""opinions registered as 1999 petitions, and 1999 member links

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 04:40:00
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('opinions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('confidential', sa.Boolean(), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('agency_code', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('request_id', sa.String(length=40), nullable=True),
    sa.Column('expected_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_opinions_case_id_cases')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_opinions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opinions')),
    sa.UniqueConstraint('request_id', name=op.f('uq_opinions_request_id'))
    )
    op.create_index(op.f('ix_opinions_case_id'), 'opinions', ['case_id'], unique=False)
    op.create_table('petition_links',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('member_id', sa.String(length=40), nullable=False),
    sa.Column('token', sa.String(length=200), nullable=False),
    sa.Column('linked_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_petition_links_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_petition_links'))
    )


def downgrade() -> None:
    op.drop_table('petition_links')
    op.drop_index(op.f('ix_opinions_case_id'), table_name='opinions')
    op.drop_table('opinions')
