from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proctor.store.sqlite import SQLiteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'keys.db'}")
    await store.open()
    yield store
    await store.close()
