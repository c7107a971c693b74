"""counter e-signature requests

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-27 09:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
import engine.db


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table('signature_requests',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('document', sa.LargeBinary(), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=False),
    sa.Column('summary', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
              nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('signed_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('signature_png', sa.LargeBinary(), nullable=True),
    sa.Column('signer_ip', sa.String(length=45), nullable=True),
    sa.Column('signed_document_id', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_signature_requests_case_id_cases')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_signature_requests_created_by_users')),
    sa.ForeignKeyConstraint(['signed_document_id'], ['documents.id'],
                            name=op.f('fk_signature_requests_signed_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signature_requests')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_signature_requests_token_hash'))
    )
    op.create_index(op.f('ix_signature_requests_case_id'), 'signature_requests', ['case_id'], unique=False)
    op.create_index('ix_signature_requests_one_pending', 'signature_requests', ['case_id'], unique=True,
                    sqlite_where=PENDING, postgresql_where=PENDING)


def downgrade() -> None:
    op.drop_index('ix_signature_requests_one_pending', table_name='signature_requests')
    op.drop_index(op.f('ix_signature_requests_case_id'), table_name='signature_requests')
    op.drop_table('signature_requests')
