"""FastAPI app factory: routers, middleware, error envelopes, lifespan (engine + workers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from message_exchange.accounts.routes import router as accounts_router
from message_exchange.accounts.service import CallerCache
from message_exchange.carriers.routes import router as carriers_router
from message_exchange.config import Settings
from message_exchange.connect.routes import routers as connect_routers
from message_exchange.console.routes import routers as console_routers
from message_exchange.core.crypto import SecretBox
from message_exchange.core.families import install_exception_handlers
from message_exchange.core.middleware import BodyLimitMiddleware, RequestContextMiddleware
from message_exchange.core.system_routes import router as system_router
from message_exchange.db.engine import create_engine, create_session_factory
from message_exchange.messages import routes as messages_routes
from message_exchange.messages import sms_routes, twilio_routes
from message_exchange.messages.fastpath import SendFastPath, SendHandler
from message_exchange.messages.intake import Intake
from message_exchange.msteams.routes import routers as msteams_routers
from message_exchange.numbers.routes import router as numbers_router
from message_exchange.webex.routes import routers as webex_routers
from message_exchange.webhooks.client import close_clients
from message_exchange.webhooks.routes import router as webhooks_router

if TYPE_CHECKING:
    from message_exchange.carriers.registry import CarrierRegistry
    from message_exchange.jobs.worker import Worker


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url)
        app.state.engine = engine
        app.state.session_factory = create_session_factory(engine)
        # SQLite has one write lock, so one writer; on PostgreSQL a second overlaps the commit wait.
        app.state.intake = Intake(app.state.session_factory, writers=1 if engine.dialect.name == "sqlite" else 2)
        worker: Worker | None = None
        carriers: CarrierRegistry | None = None
        if settings.run_workers:
            from message_exchange.carriers.registry import start_registry
            from message_exchange.jobs.worker import Worker

            # Carriers first, so the worker's first dispatch finds them (they bind in the background).
            carriers = await start_registry(settings, app.state.session_factory, app.state.secret_box)
            worker = Worker(settings, app.state.session_factory)
            await worker.start()
        app.state.worker = worker
        app.state.carriers = carriers
        try:
            yield
        finally:
            await app.state.intake.stop()
            if worker is not None:
                await worker.stop()
            if carriers is not None:
                await carriers.stop()  # after the worker: in-flight submits end before the unbind
            await close_clients()
            await engine.dispose()

    app = FastAPI(
        title="Message Exchange",
        version="0.1.0",
        description="Restcomm/Twilio-compatible messaging API, Webex and Teams SMS exchanges, SMPP carriers.",
        lifespan=lifespan,
        telemetry=_telemetry(settings.opentelemetry),
    )
    app.state.settings = settings
    app.state.secret_box = SecretBox(settings.fernet_key)
    app.state.caller_cache = CallerCache()

    install_exception_handlers(app)
    app.include_router(system_router)
    app.include_router(accounts_router)
    app.include_router(numbers_router)
    app.include_router(webhooks_router)
    for messages_router in messages_routes.routers:
        app.include_router(messages_router)
    app.include_router(sms_routes.router)
    app.include_router(twilio_routes.router)
    app.include_router(carriers_router)
    for webex_router in webex_routers:
        app.include_router(webex_router)
    for connect_router in connect_routers:
        app.include_router(connect_router)
    for msteams_router in msteams_routers:
        app.include_router(msteams_router)
    for console_router in console_routers:
        app.include_router(console_router)
    send_handlers: dict[Callable[..., Any], SendHandler] = {
        messages_routes.send_message: messages_routes.accept_message,
        sms_routes.send_sms: sms_routes.accept_sms,
        twilio_routes.create_message: twilio_routes.accept_twilio_message,
    }
    send_routers = [*messages_routes.routers, sms_routes.router, twilio_routes.router]
    send_routes = [route for router in send_routers for route in router.routes]
    app.add_middleware(SendFastPath, routes=send_routes, handlers=send_handlers)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app


def _telemetry(enabled: bool) -> TelemetryConfig:
    # All three off makes FastAPI skip its OpenTelemetry layer without asking the providers
    # (which read the environment) on every request.
    return {"tracing": enabled, "metrics": enabled, "logs": enabled}
