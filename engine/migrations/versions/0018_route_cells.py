"""approved permits' routes by map cell, for the heatmap

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-27 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('route_cells',
    sa.Column('slot', sa.SmallInteger(), nullable=False),
    sa.Column('cell', sa.String(length=16), nullable=False),
    sa.Column('permit_number', sa.String(length=32), nullable=False),
    sa.Column('windows', sa.SmallInteger(), nullable=False),
    sa.Column('first_cell', sa.Boolean(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('district', sa.String(length=10), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('weekdays', sa.SmallInteger(), nullable=False),
    sa.Column('start_minute', sa.SmallInteger(), nullable=False),
    sa.Column('end_minute', sa.SmallInteger(), nullable=False),
    sa.Column('vehicle_types', sa.Integer(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['permit_number'], ['permits.number'], name=op.f('fk_route_cells_permit_number_permits'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('slot', 'cell', 'permit_number', name=op.f('pk_route_cells')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('route_cells') as batch:
        batch.create_index('ix_route_cells_permit', ['permit_number'], unique=False)
        batch.create_index('ix_route_cells_district', ['district'], unique=False)
        batch.create_index('ix_route_cells_first', ['slot', 'revoked', 'valid_to', 'valid_from', 'weekdays',
                                                    'vehicle_types', 'windows', 'start_minute', 'end_minute',
                                                    'first_cell'], unique=False,
                           sqlite_where=sa.text('first_cell = 1'), postgresql_where=sa.text('first_cell'))


def downgrade() -> None:
    op.drop_table('route_cells')
