"""Prometheus metrics, registered once per process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

INBOUND = Counter("achterban_inbound_events_total", "Inbound events handled", ["channel"])
DUPLICATES = Counter(
    "achterban_inbound_duplicates_total",
    "Inbound events recognised as platform retries",
    ["channel"],
)
REFUSED = Counter("achterban_inbound_refused_total", "Events from unknown senders", ["channel"])
HANDLE_SECONDS = Histogram(
    "achterban_handle_seconds",
    "Time to handle one inbound event, waiting for its transaction included",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENTS_PER_COMMIT = Histogram(
    "achterban_events_per_commit",
    "Inbound events committed together in one transaction (bot/group_commit.py)",
    buckets=(1, 2, 4, 8, 16),
)
REGROUPED = Counter(
    "achterban_event_groups_retried_total",
    "Groups of events rolled back by one event's error and handled again one by one",
)
OUTBOX_DEPTH = Gauge("achterban_outbox_depth", "Undelivered outbox rows", ["channel"])
SENT = Counter("achterban_sends_total", "Messages delivered to a platform", ["channel"])
SEND_FAILURES = Counter(
    "achterban_send_failures_total", "Failed send attempts", ["channel", "permanent"]
)
