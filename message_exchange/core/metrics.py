"""Prometheus metrics. Defined once per process; ``/metrics`` exposes the default registry."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("mx_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "mx_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
JOBS_FINISHED = Counter("mx_jobs_finished_total", "Job attempts finished, by kind and outcome", ["kind", "outcome"])
JOB_DURATION = Histogram("mx_job_duration_seconds", "Time a job attempt ran", ["kind"])
JOBS_RUNNING = Gauge("mx_jobs_running", "Jobs running in this process")
CARRIER_RUNNING = Gauge("mx_carrier_running", "1 while this process runs the carrier's connector", ["carrier"])
CARRIER_UP = Gauge("mx_carrier_up", "1 while the carrier's connector can take messages (bound)", ["carrier"])
CARRIER_DISPATCHES = Counter(
    "mx_carrier_dispatches_total",
    "Messages offered to a carrier by dispatch, by outcome (accepted, rejected, unavailable)",
    ["carrier", "outcome"],
)
