"""a command's writes as one statement on PostgreSQL; lz4 for the case state

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27 10:30:00

``onestop_write`` (see ``engine.store``) runs a command's whole write batch,
guards included, so a command that starts from its in-process snapshot costs one
statement and one round trip. It replaces the per-statement guard
``onestop_expect_one``.

The case state, 7-10 KB of JSON rewritten by every command, is compressed with
lz4 where the server has it: faster than the default pglz at a similar ratio.
"""
from alembic import op

from engine import store


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_EXPECT_ONE = """
CREATE OR REPLACE FUNCTION onestop_expect_one(changed bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF changed <> 1 THEN
        RAISE EXCEPTION 'case changed since it was loaded' USING ERRCODE = 'OS409';
    END IF;
END
$$
"""

_COMPRESSION = """
DO $$
BEGIN
    ALTER TABLE cases ALTER COLUMN state SET COMPRESSION {method};
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value OR syntax_error THEN
    NULL;  -- a server built without lz4 (or older than 14) keeps pglz
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(store.write_function_sql())
    op.execute("DROP FUNCTION IF EXISTS onestop_expect_one(bigint)")
    op.execute(_COMPRESSION.format(method="lz4"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_COMPRESSION.format(method="default"))
    op.execute("DROP FUNCTION IF EXISTS onestop_write(text, integer, boolean, jsonb, json, jsonb, text, "
               "jsonb, text[], timestamptz, boolean, jsonb, text, jsonb)")
    op.execute(_EXPECT_ONE)
