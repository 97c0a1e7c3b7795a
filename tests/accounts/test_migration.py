"""Revision 20261203_0007 on SQLite and PostgreSQL: tokens that exist before it count as
password-only, invitations keep an untracked email status, and it goes down and up."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, inspect, text

from doorstep.migrate import downgrade, upgrade

REVISION, PREVIOUS = "20261203_0007", "20261129_0006"


def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_existing_tokens_count_as_password_only(fresh_url: str) -> None:
    upgrade(fresh_url, PREVIOUS)
    user_id, token_id = uuid.uuid4(), uuid.uuid4()
    engine = create_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, email, display_name, password_hash, role, "
                    "totp_enabled, is_active, created_at) VALUES (:id, 'a@example.org', 'A', "
                    "'x', 'agency_member', true, true, CURRENT_TIMESTAMP)"
                ),
                {"id": user_id.hex if fresh_url.startswith("sqlite") else user_id},
            )
            conn.execute(
                text(
                    "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_at) "
                    "VALUES (:id, :user_id, 'old', :hash, 'dsk_abc', CURRENT_TIMESTAMP)"
                ),
                {
                    "id": token_id.hex if fresh_url.startswith("sqlite") else token_id,
                    "user_id": user_id.hex if fresh_url.startswith("sqlite") else user_id,
                    "hash": "0" * 64,
                },
            )
        upgrade(fresh_url, REVISION)
        with engine.begin() as conn:
            flags = conn.execute(text("SELECT with_second_factor FROM api_tokens")).scalars().all()
        assert [bool(f) for f in flags] == [False]
        assert {"link_token_hash", "email_status", "email_error", "email_attempted_at"} <= (
            _columns(fresh_url, "agency_invitations")
        )
        assert "recovery_codes" in inspect(engine).get_table_names()
    finally:
        engine.dispose()

    downgrade(fresh_url, PREVIOUS)
    assert "with_second_factor" not in _columns(fresh_url, "api_tokens")
    assert "link_token_hash" not in _columns(fresh_url, "agency_invitations")
    engine = create_engine(fresh_url)
    try:
        assert "recovery_codes" not in inspect(engine).get_table_names()
        with engine.begin() as conn:  # the token survived the round trip
            assert conn.execute(text("SELECT count(*) FROM api_tokens")).scalar_one() == 1
    finally:
        engine.dispose()
    upgrade(fresh_url, REVISION)
