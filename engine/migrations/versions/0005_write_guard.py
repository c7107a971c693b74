"""server-side guard and audit append for the engine's one-round-trip writes (PostgreSQL only)

A command's writes and its COMMIT travel to PostgreSQL in one pipeline, so a
stale revision cannot be noticed by the client in between: the guarded
statements call ``onestop_expect_one`` on their row count, which raises (and so
aborts the transaction before the COMMIT runs) unless exactly one row changed.

``onestop_append_audit`` takes the chain lock, reads the previous hash and
inserts the event in one call. It must be a function: each statement inside a
volatile PL/pgSQL function takes a fresh snapshot, so the hash it reads after
the lock is the one the previous holder committed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 01:20:00
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

GUARD = """
CREATE OR REPLACE FUNCTION onestop_expect_one(changed bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF changed <> 1 THEN
        RAISE EXCEPTION 'case changed since it was loaded' USING ERRCODE = 'OS409';
    END IF;
END
$$
"""

APPEND = """
CREATE OR REPLACE FUNCTION onestop_append_audit(
    p_at timestamptz, p_actor_id text, p_on_behalf_of text, p_action text, p_case_id text,
    p_ip text, p_purpose text, p_result text, p_detail jsonb, p_body text, p_genesis text
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    prev text;
BEGIN
    PERFORM pg_advisory_xact_lock(7202611);
    SELECT hash INTO prev FROM audit_events ORDER BY id DESC LIMIT 1;
    prev := coalesce(prev, p_genesis);
    INSERT INTO audit_events (at, actor_id, on_behalf_of, action, case_id, ip, purpose, result,
                              detail, prev_hash, hash)
    VALUES (p_at, p_actor_id, p_on_behalf_of, p_action, p_case_id, p_ip, p_purpose, p_result,
            p_detail, prev, encode(sha256(convert_to(prev || p_body, 'UTF8')), 'hex'));
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(GUARD)
        op.execute(APPEND)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS onestop_append_audit(timestamptz, text, text, text, text, "
                   "text, text, text, jsonb, text, text)")
        op.execute("DROP FUNCTION IF EXISTS onestop_expect_one(bigint)")
