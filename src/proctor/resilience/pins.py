"""Pinned versions: notice when a provider starts serving something else for a deployment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proctor.providers.base import Deployment

EventSink = Callable[[str, str, dict[str, Any]], None]


class PinWatch:
    """Remembers what each pinned deployment served last; a change raises an event.

    `system_fingerprint` changes whenever a provider rotates its serving stack, which for some
    providers is often, so it is recorded on every request but only the served model name
    raises an event unless `watch_fingerprint` is set.
    """

    def __init__(self, emit: EventSink, *, watch_fingerprint: bool = False) -> None:
        self.emit = emit
        self.watch_fingerprint = watch_fingerprint
        self.seen: dict[str, tuple[str, str | None]] = {}

    def observe(self, deployment: Deployment, served: str, fingerprint: str | None) -> None:
        if not deployment.pinned:
            return
        current = (served, fingerprint if self.watch_fingerprint else None)
        previous = self.seen.get(deployment.name)
        self.seen[deployment.name] = current
        if previous is not None and previous != current:
            self.emit(
                "model_version_changed",
                deployment.name,
                {
                    "pinned_model": deployment.model,
                    "previous": {"model": previous[0], "system_fingerprint": previous[1]},
                    "current": {"model": current[0], "system_fingerprint": current[1]},
                },
            )
