"""the service catalog and the assistant's unanswered questions

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27 09:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import engine.db


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('catalog_items',
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_en', sa.String(length=160), nullable=False),
    sa.Column('agency', sa.String(length=120), nullable=False),
    sa.Column('agency_code', sa.String(length=40), nullable=True),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('documents', _JSON, nullable=False),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.Column('mydata', _JSON, nullable=False),
    sa.Column('service_key', sa.String(length=40), nullable=True),
    sa.Column('keywords', _JSON, nullable=False),
    sa.Column('apply_url', sa.String(length=300), nullable=True),
    sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_code'], ['agencies.code'], name=op.f('fk_catalog_items_agency_code_agencies')),
    sa.ForeignKeyConstraint(['service_key'], ['services.key'], name=op.f('fk_catalog_items_service_key_services')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_catalog_items'))
    )
    op.create_index(op.f('ix_catalog_items_category'), 'catalog_items', ['category'])
    op.create_table('unanswered_questions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('text', sa.String(length=200), nullable=False),
    sa.Column('normalised', sa.String(length=200), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_asked_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_asked_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('handled_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('handled_by', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['handled_by'], ['users.id'], name=op.f('fk_unanswered_questions_handled_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unanswered_questions')),
    sa.UniqueConstraint('normalised', name=op.f('uq_unanswered_questions_normalised'))
    )


def downgrade() -> None:
    op.drop_table('unanswered_questions')
    op.drop_index(op.f('ix_catalog_items_category'), table_name='catalog_items')
    op.drop_table('catalog_items')
