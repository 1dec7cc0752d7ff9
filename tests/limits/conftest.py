"""Fixtures for the counter tests; the service fixtures live in tests/services.py so that
later suites (Postgres store, ...) can use them too."""

from tests.services import postgres_service as postgres_service
from tests.services import redis_service as redis_service
