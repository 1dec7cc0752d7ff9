"""Telemetry: Prometheus metrics (and, alongside, trace spans and alerts)."""
