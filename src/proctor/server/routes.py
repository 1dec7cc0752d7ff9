"""The route table, and nothing else."""

from __future__ import annotations

from starlette.routing import Route

from proctor.server import (
    admin,
    admin_guards,
    admin_keys,
    admin_review,
    admin_spend,
    admin_stats,
    feedback,
    health,
    proxy,
)
from proctor.server.admin_topics import get_topics
from proctor.server.admin_traces import get_trace, list_traces
from proctor.server.metrics_route import metrics
from proctor.server.ui_route import ui

ROUTES = [
    Route("/v1/chat/completions", proxy.chat_completions, methods=["POST"]),
    Route("/chat/completions", proxy.chat_completions, methods=["POST"]),
    Route("/v1/embeddings", proxy.embeddings, methods=["POST"]),
    Route("/v1/messages", proxy.messages, methods=["POST"]),
    Route("/v1/models", proxy.list_models, methods=["GET"]),
    Route("/v1/feedback", feedback.post_feedback, methods=["POST"]),
    Route("/v1/feedback/browser", feedback.post_browser_feedback, methods=["POST", "OPTIONS"]),
    Route("/healthz", health.healthz, methods=["GET"]),
    Route("/readyz", health.readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/admin/config", admin.get_config, methods=["GET"]),
    Route("/admin/config", admin.put_config, methods=["PUT"]),
    Route("/admin/requests", admin_stats.get_requests, methods=["GET"]),
    Route("/admin/requests/{request_id}", admin_stats.get_request, methods=["GET"]),
    Route("/admin/stats", admin_stats.get_stats, methods=["GET"]),
    Route("/admin/events", admin_stats.get_events, methods=["GET"]),
    Route("/admin/keys", admin_keys.create_key, methods=["POST"]),
    Route("/admin/keys", admin_keys.list_keys, methods=["GET"]),
    Route("/admin/keys/{key_id}", admin_keys.revoke_key, methods=["DELETE"]),
    Route("/admin/spend", admin_spend.get_spend, methods=["GET"]),
    Route("/admin/traces", list_traces, methods=["GET"]),
    Route("/admin/traces/{trace_id}", get_trace, methods=["GET"]),
    Route("/admin/feedback", feedback.list_feedback, methods=["GET"]),
    Route("/admin/topics", get_topics, methods=["GET"]),
    Route("/admin/review", admin_review.list_reviews, methods=["GET"]),
    Route("/admin/review/{review_id}", admin_review.get_review, methods=["GET"]),
    Route("/admin/review/{review_id}/approve", admin_review.approve, methods=["POST"]),
    Route("/admin/review/{review_id}/reject", admin_review.reject, methods=["POST"]),
    Route("/admin/guards/breaker", admin_guards.get_breaker, methods=["GET"]),
    Route("/admin/guards/breaker/reset", admin_guards.reset_breaker, methods=["POST"]),
    Route("/ui{path:path}", ui, methods=["GET"]),
]
