"""The worker: claims due jobs, runs their handlers, records every attempt.

One :class:`Worker` runs up to ``MX_WORKER_CONCURRENCY`` jobs at once in its event loop.
Each job goes through:

1. **claim** (own transaction, committed before anything runs): the job becomes ``running``
   under this worker's id with a lease, ``attempts`` + 1, and an attempt row is written;
2. **run**: the handler gets a fresh transaction; a heartbeat extends the lease every third
   of it (fenced on worker id + attempt) and cancels the handler if the lease was lost;
3. **settle**: success is written in the handler's own transaction, fenced, so handler writes
   and completion commit together or not at all; a failure rolls the handler's writes back
   and records the retry (backoff with full jitter) or the death in a new transaction.

A process that dies leaves its jobs ``running``; once their lease expires any worker claims
them again and the lost attempt is recorded ``lease_expired``.

Kinds with a :func:`~message_exchange.jobs.registry.batch_handler` (dispatch, sandbox
receipts, webhook deliveries) are claimed apart, kind by kind in round robin, up to
``MX_WORKER_BATCH_SIZE`` at a time, and each batch runs as one transaction: the claim and
the batch commit twice for all its jobs instead of twice per job. A batch runs as one of
the worker's concurrent tasks; the jobs its handler leaves (and every job of a batch whose
handler failed) run one at a time afterwards, at most ``MX_WORKER_CONCURRENCY`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from message_exchange.config import Settings
from message_exchange.core.logging import get_logger
from message_exchange.core.metrics import JOB_DURATION, JOBS_FINISHED, JOBS_RUNNING
from message_exchange.db.base import utcnow
from message_exchange.db.engine import create_engine, create_session_factory
from message_exchange.jobs import repository, service
from message_exchange.jobs.models import AttemptOutcome
from message_exchange.jobs.registry import (
    BatchContext,
    BatchHandler,
    BatchItem,
    JobContext,
    PermanentJobError,
    RetryLater,
    batch_kinds,
    get_batch_handler,
    get_handler,
    load_handler_modules,
    registered_kinds,
)
from message_exchange.jobs.repository import ClaimedJob

log = get_logger("mx.jobs.worker")

STOP_TIMEOUT_SECONDS = 10.0
# Batches of one kind in flight per worker: one being built while the previous one commits.
MAX_BATCHES = 2
# And of all kinds: enough that a kind's batches cannot hold up another's (with two in all,
# dispatch waiting for webhook batches cost bench/smpp with worker processes 15–25 %), few
# enough that batches locking the same messages do not queue on each other (a sandbox drain
# lost about 7 % with two of every kind). Single noisy runs: worth measuring again.
MAX_BATCHES_IN_ALL = 3
# A busy worker claims once at least a quarter of its slots are free, or after this long.
CLAIM_COALESCE_SECONDS = 0.01
MAX_ERROR_CHARS = 2000


def default_worker_id() -> str:
    """``host:pid:random`` — unique per Worker, readable in the attempt history."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_ERROR_CHARS]


@dataclass(slots=True)
class _Lease:
    lost: bool = False


class Worker:
    """Runs jobs of the ``jobs`` table in this event loop; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        worker_id: str | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.worker_id = (worker_id or default_worker_id())[:128]
        self.concurrency = settings.worker_concurrency
        self._batch = max(1, self.concurrency // 4)
        self._rng = rng or random.Random()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_event: asyncio.Event | None = None
        self._main: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        # Handlers register on import; a worker knows every kind it may claim before it claims.
        load_handler_modules(settings.job_modules)
        self._batch_kinds = batch_kinds()
        self._batch_kind_set = frozenset(self._batch_kinds)
        self._batch_size = settings.worker_batch_size
        self._batches: dict[str, set[asyncio.Task[None]]] = {kind: set() for kind in self._batch_kinds}
        # With batch kinds, the one-by-one claim (every kind but those) walks past every due
        # job of a batch kind: under a backlog that is a scan, so it runs only when jobs of
        # other kinds may be due — one was enqueued, the last such claim was full, or a poll.
        self._singles_due = True
        self._batch_turn = 0

    @property
    def running_jobs(self) -> int:
        return len(self._tasks)

    async def start(self) -> None:
        """Claim and run jobs in the background until :meth:`stop`."""
        if self._main is not None:
            raise RuntimeError("worker already started")
        self._loop = asyncio.get_running_loop()
        self._wake_event = asyncio.Event()
        self._stopping = False
        service.add_waker(self.wake)
        self._main = asyncio.create_task(self._run(), name=f"mx-worker {self.worker_id}")
        log.info("worker started", worker_id=self.worker_id, concurrency=self.concurrency, kinds=registered_kinds())

    def wake(self, kinds: Collection[str] = ()) -> None:
        """Look for due jobs now instead of at the next poll. Safe from any thread.

        ``kinds``: what was enqueued, if known; only batch kinds spare the one-by-one claim.
        """
        if not kinds or not self._batch_kind_set.issuperset(kinds):
            self._singles_due = True
        loop, wake_event = self._loop, self._wake_event
        if loop is None or wake_event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake_event.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(wake_event.set)

    async def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:  # noqa: ASYNC109 - a grace period
        """Stop claiming; give running jobs ``timeout`` seconds, then abandon them to lease expiry."""
        main = self._main
        if main is None:
            return
        self._stopping = True
        service.remove_waker(self.wake)
        if self._wake_event is not None:
            self._wake_event.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        done, _ = await asyncio.wait({main}, timeout=timeout)
        if not done:
            main.cancel()
            await asyncio.gather(main, return_exceptions=True)
        elif not main.cancelled() and main.exception() is not None:
            log.error("worker loop had failed", worker_id=self.worker_id, exc_info=main.exception())
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - loop.time()))
            if pending:
                log.warning(
                    "jobs still running at stop are left to lease expiry",
                    worker_id=self.worker_id,
                    jobs=len(pending),
                )
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        self._main = None
        log.info("worker stopped", worker_id=self.worker_id)

    async def run_pending(self, limit: int | None = None) -> int:
        """Claim up to ``limit`` (default: concurrency) due jobs, run them to the end; how many ran.

        For tests, maintenance commands and one-shot use, without the background loop.
        """
        claimed = await self._claim(limit or self.concurrency)
        batches, single = self._partition(claimed)
        await asyncio.gather(
            *(self._run_batch(kind, jobs) for kind, jobs in batches.items()),
            *(self._run_job(job) for job in single),
        )
        return len(claimed)

    def _partition(self, claimed: list[ClaimedJob]) -> tuple[dict[str, list[ClaimedJob]], list[ClaimedJob]]:
        batches: dict[str, list[ClaimedJob]] = {}
        single: list[ClaimedJob] = []
        for job in claimed:
            if job.kind in self._batch_kind_set:
                batches.setdefault(job.kind, []).append(job)
            else:
                single.append(job)
        return batches, single

    async def _run(self) -> None:
        assert self._wake_event is not None
        loop = asyncio.get_running_loop()
        next_expiry_check = next_singles_poll = 0.0
        while not self._stopping:
            if self._tasks and self.concurrency - len(self._tasks) < self._batch:
                await self._gather_free_slots()
            self._wake_event.clear()
            more = False
            free = self.concurrency - len(self._tasks)
            if not self._batch_kinds or loop.time() >= next_singles_poll:
                self._singles_due = True
            if free > 0 and self._singles_due:
                self._singles_due = False
                next_singles_poll = loop.time() + self.settings.job_poll_seconds
                # Expired leases are rare (a worker died): look for them once per poll interval.
                include_expired = loop.time() >= next_expiry_check
                if include_expired:
                    next_expiry_check = loop.time() + self.settings.job_poll_seconds
                try:
                    claimed = await self._claim(free, include_expired=include_expired, except_kinds=self._batch_kinds)
                except Exception:
                    log.exception("claiming jobs failed", worker_id=self.worker_id)
                    claimed = []
                batches, single = self._partition(claimed)  # reclaimed expired jobs may be of batch kinds
                for job in single:
                    self._spawn(job)
                for kind, jobs in batches.items():
                    self._spawn_batch(kind, jobs)
                more = len(claimed) == free  # there may be more: claim again as soon as slots free up
                self._singles_due = self._singles_due or more  # or a wake-up came meanwhile
            # Round robin: a backlog of one batch kind (dispatches) must not starve another (receipts).
            self._batch_turn = (self._batch_turn + 1) % max(1, len(self._batch_kinds))
            for kind in self._batch_kinds[self._batch_turn :] + self._batch_kinds[: self._batch_turn]:
                if len(self._tasks) >= self.concurrency:
                    break
                if sum(map(len, self._batches.values())) >= MAX_BATCHES_IN_ALL:
                    break
                if len(self._batches[kind]) >= MAX_BATCHES:
                    continue
                try:
                    claimed = await self._claim(
                        self._batch_size, include_expired=False, kinds=[kind], item_budget=self._batch_size
                    )
                except Exception:
                    log.exception("claiming jobs failed", worker_id=self.worker_id)
                    claimed = []
                if claimed:
                    self._spawn_batch(kind, claimed)
                # A full batch (in jobs or in items) says there may be more.
                more = more or len(claimed) == self._batch_size or sum(job.items for job in claimed) >= self._batch_size
            if more:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_event.wait(), self.settings.job_poll_seconds)

    async def _gather_free_slots(self) -> None:
        """While busy, wait a moment for several slots to free up, so one claim serves several jobs."""
        assert self._wake_event is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLAIM_COALESCE_SECONDS
        while self._tasks and self.concurrency - len(self._tasks) < self._batch and not self._stopping:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wake_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_event.wait(), remaining)

    def _spawn(self, job: ClaimedJob) -> None:
        task = asyncio.create_task(self._run_job(job), name=f"mx-job {job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._job_done)

    def _spawn_batch(self, kind: str, jobs: list[ClaimedJob]) -> None:
        task = asyncio.create_task(self._run_batch(kind, jobs), name=f"mx-batch {kind} ×{len(jobs)}")
        self._tasks.add(task)
        self._batches.setdefault(kind, set()).add(task)
        task.add_done_callback(self._job_done)

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        for batches in self._batches.values():
            batches.discard(task)
        if self._wake_event is not None:
            self._wake_event.set()

    async def _claim(
        self,
        limit: int,
        *,
        include_expired: bool = True,
        kinds: list[str] | None = None,
        except_kinds: list[str] | None = None,
        item_budget: int | None = None,
    ) -> list[ClaimedJob]:
        now = utcnow()
        async with self.session_factory() as session, session.begin():
            return await repository.claim(
                session,
                worker_id=self.worker_id,
                limit=limit,
                now=now,
                lease_until=now + timedelta(seconds=self.settings.job_lease_seconds),
                default_max_attempts=self.settings.job_max_attempts,
                include_expired=include_expired,
                queues=service.served_queues(),
                orphaned_before=now - timedelta(seconds=self.settings.job_queue_orphan_seconds),
                kinds=kinds,
                except_kinds=except_kinds or (),
                item_budget=item_budget,
            )

    async def _run_batch(self, kind: str, jobs: list[ClaimedJob]) -> None:
        """Run ``jobs`` (all of ``kind``) through its batch handler in one transaction; the rest one by one."""
        handler = get_batch_handler(kind)
        rest = jobs
        if handler is not None:
            started = time.monotonic()
            JOBS_RUNNING.inc(len(jobs))
            outcomes: dict[str, AttemptOutcome] = {}
            try:
                outcomes = await self._execute_batch(handler, kind, jobs)
            finally:
                JOBS_RUNNING.dec(len(jobs))
                elapsed = time.monotonic() - started
                for outcome in outcomes.values():
                    JOBS_FINISHED.labels(kind, outcome.value).inc()
                    JOB_DURATION.labels(kind).observe(elapsed)
            rest = [job for job in jobs if job.id not in outcomes]
        if rest:
            slots = asyncio.Semaphore(self.concurrency)

            async def run_one(job: ClaimedJob) -> None:
                async with slots:
                    await self._run_job(job)

            await asyncio.gather(*(run_one(job) for job in rest))

    async def _execute_batch(
        self, handler: BatchHandler, kind: str, jobs: list[ClaimedJob]
    ) -> dict[str, AttemptOutcome]:
        """How each job the batch settled ended (committed); the others run one by one."""
        items = [BatchItem(job.id, job.attempt, job.max_attempts, job.payload) for job in jobs]
        async with self.session_factory() as session:
            context = BatchContext(
                session=session, kind=kind, worker_id=self.worker_id, settings=self.settings, items=items
            )
            try:
                done = set(await handler(context))
                outcomes = await self._settle_batch(session, context, jobs, done)
                if outcomes is not None:
                    await session.commit()
                    return outcomes
                await session.rollback()
                log.warning("a lease was lost during a batch; its jobs run one at a time", kind=kind, jobs=len(jobs))
            except Exception:
                await session.rollback()
                log.exception("batch handler failed; its jobs run one at a time", kind=kind, jobs=len(jobs))
        return {}

    async def _settle_batch(
        self, session: AsyncSession, context: BatchContext, jobs: list[ClaimedJob], done: set[str]
    ) -> dict[str, AttemptOutcome] | None:
        """Record how the handler settled each job, fenced; None when a lease was lost (roll back)."""
        now = utcnow()
        if not await repository.settle_succeeded(session, [job.fence for job in jobs if job.id in done], now=now):
            return None
        outcomes = dict.fromkeys(done & {job.id for job in jobs}, AttemptOutcome.SUCCEEDED)
        for job in jobs:
            retry_at = None
            if job.id in done:
                continue
            if job.id in context.failures:
                outcome, error = AttemptOutcome.DEAD, context.failures[job.id]
            elif job.id in context.retries:
                delay, error = context.retries[job.id]
                if job.attempt >= job.max_attempts:
                    outcome = AttemptOutcome.DEAD
                else:
                    outcome, retry_at = AttemptOutcome.FAILED, now + timedelta(seconds=delay)
            else:
                continue
            error = error[:MAX_ERROR_CHARS]
            if not await repository.settle(
                session, job.fence, outcome=outcome, now=now, error=error, retry_at=retry_at
            ):
                return None
            outcomes[job.id] = outcome
        return outcomes

    async def _run_job(self, job: ClaimedJob) -> None:
        started = time.monotonic()
        outcome = "error"
        JOBS_RUNNING.inc()
        try:
            outcome = await self._execute(job)
        except asyncio.CancelledError:
            outcome = "abandoned"
            raise
        except Exception:
            log.exception(
                "recording the end of a job failed; it is left to lease expiry",
                job_id=job.id,
                kind=job.kind,
                attempt=job.attempt,
                worker_id=self.worker_id,
            )
        finally:
            JOBS_RUNNING.dec()
            JOB_DURATION.labels(job.kind).observe(time.monotonic() - started)
            JOBS_FINISHED.labels(job.kind, outcome).inc()

    async def _execute(self, job: ClaimedJob) -> str:
        """Run one claimed attempt; return its outcome (an AttemptOutcome value or ``lease_lost``)."""
        current = asyncio.current_task()
        fields = {"job_id": job.id, "kind": job.kind, "attempt": job.attempt, "worker_id": self.worker_id}
        handler = get_handler(job.kind)
        async with self.session_factory() as session:
            if handler is None:
                log.error("no handler for job kind; job is dead", **fields)
                return await self._settle_failure(
                    session, job, f"no handler registered for job kind {job.kind!r}", dead=True
                )
            context = JobContext(
                session=session,
                job_id=job.id,
                kind=job.kind,
                attempt=job.attempt,
                max_attempts=job.max_attempts,
                worker_id=self.worker_id,
                settings=self.settings,
            )
            lease = _Lease()
            handler_done = asyncio.Event()
            handler_task = asyncio.create_task(handler(context, job.payload), name=f"mx-handler {job.id}")
            heartbeat: list[asyncio.Task[None]] = []  # started only if the handler outlives a heartbeat interval
            timer = asyncio.get_running_loop().call_later(
                self.settings.job_lease_seconds / 3,
                lambda: heartbeat.append(asyncio.create_task(self._heartbeat(job, handler_done, handler_task, lease))),
            )
            try:
                try:
                    await handler_task
                finally:
                    handler_done.set()
                if await repository.settle(session, job.fence, outcome=AttemptOutcome.SUCCEEDED, now=utcnow()):
                    await session.commit()
                    log.debug("job succeeded", **fields)
                    return AttemptOutcome.SUCCEEDED.value
                await session.rollback()
                log.warning("lease lost before completion; the handler's writes are rolled back", **fields)
                return "lease_lost"
            except asyncio.CancelledError:
                if lease.lost and current is not None and current.cancelling() == 0:
                    await session.rollback()
                    log.warning("lease lost while running; handler cancelled and rolled back", **fields)
                    return "lease_lost"
                raise
            except RetryLater as exc:
                await session.rollback()
                log.info("job asked to be retried later", delay=exc.delay_seconds, reason=exc.reason, **fields)
                return await self._settle_failure(session, job, _describe(exc), retry_in=exc.delay_seconds)
            except PermanentJobError as exc:
                await session.rollback()
                log.warning("job failed permanently", error=_describe(exc), **fields)
                return await self._settle_failure(session, job, _describe(exc), dead=True)
            except Exception as exc:
                await session.rollback()
                log.warning("job attempt failed", exc_info=True, **fields)
                return await self._settle_failure(session, job, _describe(exc))
            finally:
                handler_done.set()
                timer.cancel()
                if heartbeat and current is not None and current.cancelling():
                    heartbeat[0].cancel()
                await asyncio.gather(*heartbeat, return_exceptions=True)

    async def _settle_failure(
        self,
        session: AsyncSession,
        job: ClaimedJob,
        error: str,
        *,
        dead: bool = False,
        retry_in: float | None = None,
    ) -> str:
        now = utcnow()
        if dead or job.attempt >= job.max_attempts:
            outcome, retry_at = AttemptOutcome.DEAD, None
        else:
            if retry_in is None:
                retry_in = service.backoff_delay(
                    job.attempt,
                    self.settings.job_backoff_base_seconds,
                    self.settings.job_backoff_max_seconds,
                    rng=self._rng,
                )
            outcome, retry_at = AttemptOutcome.FAILED, now + timedelta(seconds=retry_in)
        settled = await repository.settle(session, job.fence, outcome=outcome, now=now, error=error, retry_at=retry_at)
        await session.commit()
        if not settled:
            log.warning("lease lost before the failure was recorded", job_id=job.id, attempt=job.attempt)
            return "lease_lost"
        if outcome is AttemptOutcome.DEAD:
            log.warning("job is dead", job_id=job.id, kind=job.kind, attempt=job.attempt, error=error)
        return outcome.value

    async def _heartbeat(
        self, job: ClaimedJob, handler_done: asyncio.Event, handler_task: asyncio.Task[None], lease: _Lease
    ) -> None:
        """Extend the lease every third of it while the handler runs; cancel the handler if it was lost."""
        interval = self.settings.job_lease_seconds / 3
        while not handler_done.is_set():
            now = utcnow()
            try:
                async with self.session_factory() as session, session.begin():
                    held = await repository.extend_lease(
                        session,
                        job.fence,
                        now=now,
                        lease_until=now + timedelta(seconds=self.settings.job_lease_seconds),
                    )
            except Exception:
                log.warning("extending a job lease failed", job_id=job.id, exc_info=True)
                held = True  # unknown: keep trying; the fence decides at completion
            if handler_done.is_set():
                return
            if not held:
                log.warning("job lease lost; cancelling its handler", job_id=job.id, attempt=job.attempt)
                lease.lost = True
                handler_task.cancel()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(handler_done.wait(), interval)


async def run_worker(settings: Settings) -> None:
    """``mx worker``: run a :class:`Worker` until SIGTERM or SIGINT, then stop gracefully."""
    from message_exchange.carriers.registry import start_registry
    from message_exchange.webhooks.client import close_clients

    engine = create_engine(settings.resolved_database_url)
    session_factory = create_session_factory(engine)
    # The live carrier connectors dispatch submits to; stopped (unbound) after the worker.
    carriers = await start_registry(settings, session_factory)
    worker = Worker(settings, session_factory)
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    crashed = False
    for signum in signals:
        loop.add_signal_handler(signum, stop_requested.set)
    try:
        await worker.start()
        main = worker._main
        assert main is not None
        waiter = asyncio.create_task(stop_requested.wait())
        await asyncio.wait({waiter, main}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        crashed = main.done()
        log.info("worker stopping", worker_id=worker.worker_id, running=worker.running_jobs)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        await worker.stop()
        await carriers.stop()
        await close_clients()
        await engine.dispose()
    if crashed:
        raise SystemExit(1)
