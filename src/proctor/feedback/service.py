"""The gateway's feedback service: token signing, finding the rated request, and the write.

Nothing here writes to the database on a request: a rating becomes a FeedbackRecord handed
to the batched writer, like every other record.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from itertools import islice
from typing import Literal

import msgspec

from proctor.config import Config, FeedbackConfig
from proctor.context import Context
from proctor.feedback.body import FeedbackInput
from proctor.feedback.recent import UNAUTHENTICATED, RecentRequests, Seen
from proctor.feedback.tokens import TOKEN_HEADER, Signer, signing_secret
from proctor.store.base import FeedbackStore, RequestLog
from proctor.store.records import FeedbackRecord
from proctor.store.writer import BatchWriter

log = logging.getLogger("proctor.feedback")

Channel = Literal["api", "browser"]
SECRET_NAME = "feedback_token"
_encoder = msgspec.json.Encoder()


class Changes:
    """How often each (request, channel) was rated here; the oldest entries are forgotten."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._counts: dict[tuple[str, str], int] = {}

    def take(self, request_id: str, channel: str, limit: int) -> bool:
        """Count one more rating; False once `limit` ratings were already counted."""
        key = (request_id, channel)
        count = self._counts.get(key, 0)
        if count >= limit:
            return False
        self._counts[key] = count + 1
        excess = len(self._counts) - self.capacity
        if excess > 0:
            for old in list(islice(self._counts, excess)):
                del self._counts[old]
        return True


class FeedbackService:
    def __init__(self, store: RequestLog, writer: BatchWriter, config: FeedbackConfig) -> None:
        self.store = store
        self.writer = writer
        self.recent = RecentRequests(config.recent_requests)
        self.changes = Changes(config.recent_requests)
        writer.observers.append(self.recent.observe)
        self._stored_secret: str | None = None
        self._signers: dict[tuple[str | None, str | None], Signer] = {}

    async def start(self) -> None:
        """Read (or, on the very first start, create) the stored signing secret."""
        candidate = secrets.token_urlsafe(32)
        if isinstance(self.store, FeedbackStore):
            self._stored_secret = await self.store.ensure_secret(SECRET_NAME, candidate)
        else:
            log.warning(
                "the store cannot keep a feedback secret; set `feedback.secret` so that "
                "replicas accept each other's feedback tokens"
            )
            self._stored_secret = candidate

    def signer(self, config: Config) -> Signer:
        """The signer for this config; cached, so a token costs one HMAC and a dict probe."""
        key = (config.feedback.secret, config.server.admin_key)
        signer = self._signers.get(key)
        if signer is None:
            if self._stored_secret is None:
                raise RuntimeError("the feedback service is not started")
            if len(self._signers) >= 8:  # old configs' signers; a reload changed the secret
                self._signers.clear()
            secret = signing_secret(*key, stored=self._stored_secret)
            signer = self._signers[key] = Signer(secret)
        return signer

    def stamp(self, ctx: Context, config: Config) -> None:
        """Put the request's feedback token on its response headers."""
        ctx.response_headers[TOKEN_HEADER] = self.signer(config).token(ctx.request_id)

    @property
    def wait_s(self) -> float:
        """How long a rating may wait for its request to come out of the writer's buffer."""
        return min(5.0, max(0.5, 3 * self.writer.flush_interval_s))

    async def locate(self, request_id: str) -> Seen | None:
        """The request, if this gateway finished it lately or the store has it; None also for
        a request refused at authentication, which is not rateable."""
        seen = self.recent.lookup(request_id)
        if seen is not None:
            return seen
        row = await self.store.get_request(request_id)
        if row is not None:
            if row.get("status") == UNAUTHENTICATED:
                return None
            key_id = row.get("key_id")
            model, feature = row.get("public_model"), row.get("feature")
            return Seen(
                key_id if isinstance(key_id, str) else None,
                model if isinstance(model, str) else None,
                feature if isinstance(feature, str) else None,
            )
        # Maybe finished a moment ago and still in the writer's buffer (or being written).
        return await self.recent.wait_for(request_id, lambda: self.writer.depth, self.wait_s)

    def submit(
        self, given: FeedbackInput, channel: Channel, rated_by: str | None
    ) -> FeedbackRecord:
        record = FeedbackRecord(
            request_id=given.request_id,
            channel=channel,
            id="fb_" + uuid.uuid4().hex,
            created_at=time.time(),
            score=given.score,
            comment=given.comment,
            metadata=_encoder.encode(given.metadata).decode(),
            rated_by=rated_by,
        )
        self.writer.submit(record)
        return record
