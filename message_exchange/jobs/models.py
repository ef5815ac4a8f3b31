"""The durable job queue's tables: ``jobs`` and the history of their ``job_attempts``.

A job's id is a sid (``JB`` + 32 hex): it is made by the enqueuer without a round trip, it
never collides across databases or shards, and it can be shown through the API like every
other resource id. Claim order comes from ``run_at``, not from the id.

Only unfinished jobs are in the indexes the claim query reads: ``ix_jobs_run_at`` holds
pending jobs only and ``ix_jobs_lease_expires_at`` running jobs only (partial indexes on
PostgreSQL and SQLite alike), so claiming stays an index range scan however many millions of
succeeded and dead jobs are kept.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from message_exchange.db.base import Base

SID_PREFIX = "JB"


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


class AttemptOutcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    LEASE_EXPIRED = "lease_expired"
    DEAD = "dead"


# Literal SQL (not bound parameters) so the planner can prove a query implies the partial
# index predicate: a prepared generic plan with ``status = $1`` could not use it.
PENDING_PREDICATE = "status = 'pending'"
RUNNING_PREDICATE = "status = 'running'"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'running', 'succeeded', 'dead')", name="status"),
        Index(
            "ix_jobs_run_at",
            "run_at",
            postgresql_where=text(PENDING_PREDICATE),
            sqlite_where=text(PENDING_PREDICATE),
        ),
        # Batch kinds are claimed kind by kind (kind = ?, oldest first), past any backlog of others.
        Index(
            "ix_jobs_kind_run_at",
            "kind",
            "run_at",
            postgresql_where=text(PENDING_PREDICATE),
            sqlite_where=text(PENDING_PREDICATE),
        ),
        Index(
            "ix_jobs_lease_expires_at",
            "lease_expires_at",
            postgresql_where=text(RUNNING_PREDICATE),
            sqlite_where=text(RUNNING_PREDICATE),
        ),
    )

    id: Mapped[str] = mapped_column(String(34), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # How many items (messages, deliveries) the payload names: 1, or more for a shared job.
    # Workers claim batches by items, so a batch of shared jobs stays MX_WORKER_BATCH_SIZE big.
    items: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    # NULL: any worker may run it. Otherwise only workers serving this queue (a worker bound to
    # an SMPP carrier serves ``carrier:<name>``), or any worker once it has waited
    # MX_JOB_QUEUE_ORPHAN_SECONDS past its run_at (nobody serves the queue any more).
    queue: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    # Number of the latest attempt (0 before the first claim). With ``locked_by`` it fences
    # every write a worker makes for the attempt it runs.
    attempts: Mapped[int] = mapped_column(Integer)
    # NULL: the workers' MX_JOB_MAX_ATTEMPTS applies.
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    run_at: Mapped[datetime]
    lease_expires_at: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class JobAttempt(Base):
    """One run of a job by one worker; written when claimed, updated when it ends."""

    __tablename__ = "job_attempts"
    __table_args__ = (
        CheckConstraint(
            "outcome IN ('running', 'succeeded', 'failed', 'lease_expired', 'dead')",
            name="outcome",
        ),
    )

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
