from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway_server import ServerThread, running_gateway, sim_config


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[ServerThread]:
    with running_gateway(sim_config(tmp_path)) as server:
        yield server
