"""satisfaction ratings

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 04:45:00
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ratings',
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('rated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_ratings_case_id_cases')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ratings_user_id_users')),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_ratings'))
    )
    op.create_index(op.f('ix_ratings_rated_at'), 'ratings', ['rated_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_ratings_rated_at'), table_name='ratings')
    op.drop_table('ratings')
