"""Job handlers the queue tests run, in this process and in `mx worker` subprocesses.

Import with MX_JOB_MODULES=tests.jobs.handlers_for_tests. Each handler records the
runs it finishes in ``job_runs_for_tests`` through the job's own transaction — a plain
table with no unique constraint, so a job that ran twice shows up twice.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from sqlalchemy import text

from message_exchange.jobs.registry import (
    BatchContext,
    JobContext,
    PermanentJobError,
    RetryLater,
    batch_handler,
    job_handler,
)

RUNS_TABLE = "job_runs_for_tests"
CREATE_RUNS_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {RUNS_TABLE} (job_id VARCHAR(34) NOT NULL, worker_id VARCHAR(128) NOT NULL, "
    "attempt INTEGER NOT NULL)"
)

# In-process tests hold a handler at a point: (job id, attempt) → events.
GATES: dict[tuple[str, int], asyncio.Event] = {}
ENTERED: dict[tuple[str, int], asyncio.Event] = {}


async def record_run(ctx: JobContext) -> None:
    await ctx.session.execute(
        text(f"INSERT INTO {RUNS_TABLE} (job_id, worker_id, attempt) VALUES (:job_id, :worker_id, :attempt)"),
        {"job_id": ctx.job_id, "worker_id": ctx.worker_id, "attempt": ctx.attempt},
    )


@job_handler("test.record")
async def record(ctx: JobContext, payload: dict[str, Any]) -> None:
    await record_run(ctx)


@job_handler("test.fail")
async def fail(ctx: JobContext, payload: dict[str, Any]) -> None:
    raise ValueError(f"boom on attempt {ctx.attempt}")


@job_handler("test.write_then_fail")
async def write_then_fail(ctx: JobContext, payload: dict[str, Any]) -> None:
    await record_run(ctx)
    raise RuntimeError("failed after writing")


@job_handler("test.retry_later")
async def retry_later(ctx: JobContext, payload: dict[str, Any]) -> None:
    if ctx.attempt == 1:
        raise RetryLater(float(payload["delay"]), "peer throttled")
    await record_run(ctx)


@job_handler("test.permanent")
async def permanent(ctx: JobContext, payload: dict[str, Any]) -> None:
    raise PermanentJobError("bad payload")


@job_handler("test.gated")
async def gated(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Waits at its gate (if the test set one) before writing: on SQLite, writing first would hold the lock."""
    key = (ctx.job_id, ctx.attempt)
    if key in ENTERED:
        ENTERED[key].set()
    if key in GATES:
        await GATES[key].wait()
    await record_run(ctx)


@job_handler("test.sleepy")
async def sleepy(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Notes "<attempt> <pid>" in payload["started_path"] (outside the DB), sleeps on the listed attempts."""
    with open(payload["started_path"], "a", encoding="utf-8") as fh:  # noqa: ASYNC230 - a tiny test write
        fh.write(f"{ctx.attempt} {os.getpid()}\n")
        fh.flush()
        os.fsync(fh.fileno())
    if ctx.attempt in payload.get("sleep_on_attempts", []):
        await asyncio.sleep(float(payload["sleep"]))
    await record_run(ctx)


# -- a batch kind -----------------------------------------------------------------------------
# Job ids of each call of the batch handler (in-process tests only).
BATCHES: list[list[str]] = []


@job_handler("test.batched")
async def batched_one(ctx: JobContext, payload: dict[str, Any]) -> None:
    if payload.get("fail_single"):
        raise RuntimeError("the one-by-one run failed")
    await record_run(ctx)


@batch_handler("test.batched")
async def batched_many(ctx: BatchContext) -> list[str]:
    """Records a run for each job, except those marked ``leave``; ``explode`` raises after writing;
    ``steal`` hands the job's lease to someone else in the same transaction."""
    BATCHES.append([item.job_id for item in ctx.items])
    done: list[str] = []
    for item in ctx.items:
        if item.payload.get("leave"):
            continue
        if item.payload.get("retry"):
            ctx.retry_later(item.job_id, float(item.payload["retry"]), "peer busy")
            continue
        if item.payload.get("fail"):
            ctx.fail_permanently(item.job_id, "bad payload")
            continue
        await ctx.session.execute(
            text(f"INSERT INTO {RUNS_TABLE} (job_id, worker_id, attempt) VALUES (:job_id, :worker_id, :attempt)"),
            {"job_id": item.job_id, "worker_id": ctx.worker_id, "attempt": item.attempt},
        )
        if item.payload.get("steal"):
            await ctx.session.execute(
                text("UPDATE jobs SET locked_by = 'someone-else' WHERE id = :id"), {"id": item.job_id}
            )
        done.append(item.job_id)
    if any(item.payload.get("explode") for item in ctx.items):
        raise RuntimeError("the batch failed after writing")
    return done
