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
    Migration(
        4,
        "trace spans",
        (
            # Written by proctor.telemetry.tracing after each request, never on its path.
            # Times are Unix epoch nanoseconds; `attributes` is a JSON object, `events` a JSON
            # array. `request_id` and `session` are set on each request's root span only.
            """
            CREATE TABLE spans (
                trace_id TEXT NOT NULL,
                span_id TEXT NOT NULL,
                parent_id TEXT,
                request_id TEXT,
                session TEXT,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                start_ns BIGINT NOT NULL,
                end_ns BIGINT NOT NULL,
                status TEXT NOT NULL,
                status_message TEXT,
                attributes TEXT NOT NULL,
                events TEXT NOT NULL,
                PRIMARY KEY (trace_id, span_id)
            )
            """,
            # Partial indexes: they hold the root spans only, so the other spans of a
            # request cost one index (the primary key) to insert, not four.
            "CREATE INDEX spans_request ON spans (request_id) WHERE request_id IS NOT NULL",
            "CREATE INDEX spans_session ON spans (session, start_ns) WHERE session IS NOT NULL",
            "CREATE INDEX spans_root_start ON spans (start_ns) WHERE request_id IS NOT NULL",
        ),
    ),
    Migration(
        5,
        "feedback",
        (
            # One row per request and channel ("api", "browser"): a new rating replaces the
            # old. `rated_by` is the key id, "admin", or NULL; `metadata` is a JSON object.
            """
            CREATE TABLE feedback (
                request_id TEXT NOT NULL,
                channel TEXT NOT NULL,
                id TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                score DOUBLE PRECISION NOT NULL,
                comment TEXT,
                metadata TEXT NOT NULL,
                rated_by TEXT,
                PRIMARY KEY (request_id, channel)
            )
            """,
            "CREATE INDEX feedback_created_at ON feedback (created_at)",
            # Secrets the replicas must share (the feedback token key), generated once.
            """
            CREATE TABLE gateway_secrets (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            )
            """,
        ),
    ),
    Migration(
        6,
        "query topics",
        (
            # Written in batches by proctor.topics, never on a request's path. `centroid` is
            # the base64 of the float32 sum of the members' vectors (divide by `count` for the
            # mean): TEXT, because BLOB and BYTEA differ between SQLite and PostgreSQL.
            """
            CREATE TABLE topics (
                id TEXT PRIMARY KEY,
                label TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                count INTEGER NOT NULL,
                embedder TEXT NOT NULL,
                centroid TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE topic_assignments (
                request_id TEXT PRIMARY KEY,
                topic_id TEXT NOT NULL,
                at DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE INDEX topic_assignments_topic ON topic_assignments (topic_id)",
        ),
    ),
    Migration(
        7,
        "stage start offsets on the request log",
        ("ALTER TABLE requests ADD COLUMN stage_start_ms TEXT NOT NULL DEFAULT '{}'",),
    ),
    Migration(
        8,
        "human review queue",
        (
            # One row per request held for review (proctor.guards.review). `preview` is the
            # held text already redacted: no raw sensitive value is stored. `rules` is a JSON
            # array, `findings` a JSON array of {kind, type, start, end, score, reason}.
            # `status` is pending, approved, rejected or expired; the decision columns are
            # set together, once, by a compare-and-set on status = 'pending'.
            """
            CREATE TABLE review (
                id TEXT PRIMARY KEY,
                request_id TEXT NOT NULL,
                stage TEXT NOT NULL,
                rules TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                default_decision TEXT NOT NULL,
                preview TEXT NOT NULL,
                findings TEXT NOT NULL,
                feature TEXT,
                model TEXT,
                key_id TEXT,
                "user" TEXT,
                tenant TEXT,
                status TEXT NOT NULL,
                decision TEXT,
                decided_by TEXT,
                decided_at DOUBLE PRECISION,
                reason TEXT
            )
            """,
            "CREATE INDEX review_status_created ON review (status, created_at)",
            "CREATE INDEX review_created ON review (created_at)",
        ),
    ),
)
