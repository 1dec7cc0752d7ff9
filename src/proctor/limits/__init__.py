"""Enforcement state that must be exact: budgets and rate limits, in memory or in Redis."""
