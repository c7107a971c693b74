"""a command's writes as one statement on PostgreSQL; lz4 for the case state

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27 10:30:00

``onestop_write`` (see ``engine.store``) runs a command's whole write batch,
guards and audit events included, so a command that starts from its in-process
snapshot costs one statement and one round trip. ``onestop_append_events``
(see ``engine.audit``) appends to the audit trail outside the engine's commands.
They replace the per-statement guard ``onestop_expect_one`` and the one-event
``onestop_append_audit`` of revision 0005.

The case state, 7-10 KB of JSON rewritten by every command, is compressed with
lz4 where the server has it: faster than the default pglz at a similar ratio.
"""
import importlib.util
from pathlib import Path

from alembic import op

from engine import audit, store


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_COMPRESSION = """
DO $$
BEGIN
    ALTER TABLE cases ALTER COLUMN state SET COMPRESSION {method};
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value OR syntax_error THEN
    NULL;  -- a server built without lz4 (or older than 14) keeps pglz
END
$$
"""
_APPEND_AUDIT = ("onestop_append_audit(timestamptz, text, text, text, text, text, text, text, jsonb, "
                 "text, text)")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(audit.pg_append_function_sql())
    op.execute(store.write_function_sql())
    op.execute(f"DROP FUNCTION IF EXISTS {_APPEND_AUDIT}")
    op.execute("DROP FUNCTION IF EXISTS onestop_expect_one(bigint)")
    op.execute(_COMPRESSION.format(method="lz4"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_COMPRESSION.format(method="default"))
    op.execute("DROP FUNCTION IF EXISTS onestop_write(text, integer, boolean, jsonb, json, jsonb, text, "
               "jsonb, text[], timestamptz, boolean, jsonb, text, jsonb)")
    op.execute("DROP FUNCTION IF EXISTS onestop_append_events(jsonb, text)")
    write_guard = _revision("0005_write_guard.py")
    op.execute(write_guard.GUARD)
    op.execute(write_guard.APPEND)


def _revision(filename: str):
    """An earlier revision's module, for the functions it created."""
    spec = importlib.util.spec_from_file_location(f"_onestop_{filename[:4]}", Path(__file__).with_name(filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
