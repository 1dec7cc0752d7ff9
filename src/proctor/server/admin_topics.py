"""GET /admin/topics?since=24h: the query topics of the window (proctor.topics)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from proctor.server.admin import _authorize
from proctor.server.admin_stats import _answer, _params
from proctor.store.base import SpendStore
from proctor.topics.report import topics_query, topics_report

TOPICS_PARAMETERS = ("since",)


async def get_topics(request: Request) -> Response:
    async def build(store: SpendStore) -> Any:
        config = _authorize(request).config.topics
        query = topics_query(
            _params(request, TOPICS_PARAMETERS),
            growing_factor=config.growing_factor,
            growing_min_requests=config.growing_min_requests,
        )
        return await topics_report(store, query)

    return await _answer(request, build)
