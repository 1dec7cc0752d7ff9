"""Alerts: rules over in-memory rolling series and operational events, sent to sinks.

engine.py ties it together; series.py keeps the windows, rules.py judges them, payload.py
shapes an alert, sinks.py and dispatch.py deliver it in the background.
"""

from proctor.alerts.dispatch import Dispatcher, SinkStats
from proctor.alerts.engine import AlertEngine
from proctor.alerts.payload import Alert, slack_body, webhook_body
from proctor.alerts.rules import Rule, sample_alert
from proctor.alerts.sinks import Delivery

__all__ = [
    "Alert",
    "AlertEngine",
    "Delivery",
    "Dispatcher",
    "Rule",
    "SinkStats",
    "sample_alert",
    "slack_body",
    "webhook_body",
]
