"""Numbered, append-only schema migrations, shared by every SQL backend.

Never edit a migration that has shipped: add a new one. Each is plain SQL that both SQLite
and PostgreSQL accept; a backend records the numbers it applied in `schema_migrations`.
"""

from __future__ import annotations

from typing import NamedTuple


class Migration(NamedTuple):
    number: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "request log",
        (
            """
            CREATE TABLE requests (
                id TEXT PRIMARY KEY,
                started_at DOUBLE PRECISION NOT NULL,
                api TEXT NOT NULL,
                operation TEXT NOT NULL,
                stream BOOLEAN NOT NULL,
                status INTEGER NOT NULL,
                public_model TEXT NOT NULL,
                latency_ms DOUBLE PRECISION NOT NULL,
                ttft_ms DOUBLE PRECISION,
                error TEXT,
                tenant TEXT,
                team TEXT,
                "user" TEXT,
                feature TEXT,
                endpoint TEXT,
                session TEXT,
                environment TEXT,
                key_id TEXT,
                deployment TEXT,
                provider TEXT,
                served_model TEXT,
                system_fingerprint TEXT,
                prompt_tokens INTEGER,
                completion_tokens INTEGER,
                cached_tokens INTEGER,
                cache_creation_tokens INTEGER,
                reasoning_tokens INTEGER,
                cost_usd DOUBLE PRECISION,
                stage_ms TEXT NOT NULL,
                attempts TEXT NOT NULL,
                findings TEXT NOT NULL
            )
            """,
            "CREATE INDEX requests_started_at ON requests (started_at)",
            'CREATE INDEX requests_user_started ON requests ("user", started_at)',
            "CREATE INDEX requests_feature_started ON requests (feature, started_at)",
            "CREATE INDEX requests_session ON requests (session)",
        ),
    ),
    Migration(
        2,
        "events",
        (
            """
            CREATE TABLE events (
                id TEXT PRIMARY KEY,
                at DOUBLE PRECISION NOT NULL,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                detail TEXT NOT NULL
            )
            """,
            "CREATE INDEX events_kind_at ON events (kind, at)",
        ),
    ),
    Migration(
        3,
        "virtual keys",
        (
            # Only the sha256 of a secret is stored (see proctor.keys.record); `models` is a
            # JSON array or NULL (all models), `metadata` a JSON object.
            """
            CREATE TABLE keys (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                hash TEXT NOT NULL,
                prefix TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                tenant TEXT,
                team TEXT,
                "user" TEXT,
                revoked_at DOUBLE PRECISION,
                budget_usd DOUBLE PRECISION,
                budget_period TEXT NOT NULL,
                rpm INTEGER,
                tpm INTEGER,
                models TEXT,
                metadata TEXT NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX keys_hash ON keys (hash)",
            "CREATE INDEX keys_prefix ON keys (prefix)",
        ),
    ),
)
