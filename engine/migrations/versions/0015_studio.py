"""analyst studio: definition drafts; forms and approver of a published version

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 08:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import engine.db


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('definitions') as batch:
        batch.add_column(sa.Column('forms', sa.JSON(), nullable=False, server_default='{}'))
        batch.add_column(sa.Column('approved_by', sa.String(length=80), nullable=True))
    op.create_table('definition_drafts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('service_key', sa.String(length=40), nullable=False),
    sa.Column('base_definition_id', sa.Integer(), nullable=True),
    sa.Column('bpmn_xml', sa.LargeBinary(), nullable=False),
    sa.Column('forms', sa.JSON(), nullable=False),
    sa.Column('problems', _JSON, nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('import_report', _JSON, nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('forms_revision', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.String(length=32), nullable=False),
    sa.Column('editors', _JSON, nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.String(length=32), nullable=True),
    sa.Column('reviewed_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=False),
    sa.Column('definition_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['service_key'], ['services.key'], name=op.f('fk_definition_drafts_service_key_services')),
    sa.ForeignKeyConstraint(['base_definition_id'], ['definitions.id'], name=op.f('fk_definition_drafts_base_definition_id_definitions')),
    sa.ForeignKeyConstraint(['definition_id'], ['definitions.id'], name=op.f('fk_definition_drafts_definition_id_definitions')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_definition_drafts_author_id_users')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['users.id'], name=op.f('fk_definition_drafts_reviewed_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_definition_drafts'))
    )
    op.create_index(op.f('ix_definition_drafts_service_key'), 'definition_drafts', ['service_key'])


def downgrade() -> None:
    op.drop_index(op.f('ix_definition_drafts_service_key'), table_name='definition_drafts')
    op.drop_table('definition_drafts')
    with op.batch_alter_table('definitions') as batch:
        batch.drop_column('approved_by')
        batch.drop_column('forms')
