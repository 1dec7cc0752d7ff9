"""Resilience: load balancing, retries, timeouts, circuit breakers, hedging, degradation."""
