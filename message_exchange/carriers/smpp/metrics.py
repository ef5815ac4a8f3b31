"""Per-carrier SMPP metrics (the process-wide Prometheus registry, like core.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

BINDS_UP = Gauge("mx_smpp_binds_up", "Bound SMPP sessions in this process", ["carrier"])
WINDOW_IN_USE = Gauge("mx_smpp_window_in_use", "submit_sm awaiting submit_sm_resp in this process", ["carrier"])
SUBMITS = Counter("mx_smpp_submit_sm_total", "submit_sm answered, by outcome", ["carrier", "outcome"])
ERRORS = Counter("mx_smpp_errors_total", "submit_sm_resp with an error command_status", ["carrier", "command_status"])
RECEIPTS = Counter("mx_smpp_receipts_total", "Delivery receipts received, by state", ["carrier", "state"])
MO_PARTS = Counter("mx_smpp_mo_total", "Mobile-originated deliver_sm received", ["carrier"])
RECEIPT_LATENCY = Histogram(
    "mx_smpp_receipt_latency_seconds",
    "From submit_sm_resp to the part's final delivery receipt",
    ["carrier"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0),
)
