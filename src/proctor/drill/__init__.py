"""Failover drills: prove every fallback path works before an outage needs it."""
