"""assessment slots

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 01:27:59.327498
"""
from alembic import op
import sqlalchemy as sa
import engine.db
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assessment_slots',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('agency_code', sa.String(length=40), nullable=False),
    sa.Column('assessor_id', sa.String(length=32), nullable=False),
    sa.Column('starts_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('districts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=True),
    sa.Column('booked_by', sa.String(length=32), nullable=True),
    sa.Column('booked_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agency_code'], ['agencies.code'], name=op.f('fk_assessment_slots_agency_code_agencies')),
    sa.ForeignKeyConstraint(['assessor_id'], ['users.id'], name=op.f('fk_assessment_slots_assessor_id_users')),
    sa.ForeignKeyConstraint(['booked_by'], ['users.id'], name=op.f('fk_assessment_slots_booked_by_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_assessment_slots_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_slots')),
    sa.UniqueConstraint('assessor_id', 'starts_at', name=op.f('uq_assessment_slots_assessor_id')),
    sa.UniqueConstraint('case_id', name=op.f('uq_assessment_slots_case_id'))
    )
    with op.batch_alter_table('assessment_slots', schema=None) as batch_op:
        batch_op.create_index('ix_assessment_slots_open', ['agency_code', 'starts_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('assessment_slots', schema=None) as batch_op:
        batch_op.drop_index('ix_assessment_slots_open')

    op.drop_table('assessment_slots')
