"""care-referral routes; services staff may open

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 05:00:00
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('referral_routes',
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('agency_code', sa.String(length=40), nullable=False),
    sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['agency_code'], ['agencies.code'], name=op.f('fk_referral_routes_agency_code_agencies')),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_referral_routes_updated_by_users')),
    sa.PrimaryKeyConstraint('category', name=op.f('pk_referral_routes'))
    )
    with op.batch_alter_table('services') as batch:
        batch.add_column(sa.Column('open_to_staff', sa.Boolean(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('services') as batch:
        batch.drop_column('open_to_staff')
    op.drop_table('referral_routes')
