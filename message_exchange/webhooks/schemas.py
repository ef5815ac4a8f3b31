"""The webhook delivery resource (Restcomm shape: snake_case JSON, RFC 2822 dates)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from message_exchange.accounts.schemas import API_BASE
from message_exchange.core.dates import rfc2822
from message_exchange.webhooks.models import WebhookAttempt, WebhookDelivery


def deliveries_uri(account_sid: str) -> str:
    return f"{API_BASE}/Accounts/{account_sid}/WebhookDeliveries"


def delivery_uri(delivery: WebhookDelivery) -> str:
    return f"{deliveries_uri(delivery.account_sid)}/{delivery.sid}.json"


def attempt_resource(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt,
        "date_started": rfc2822(attempt.started_at),
        "duration_ms": attempt.duration_ms,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "response_body": attempt.response_body,
    }


def delivery_resource(delivery: WebhookDelivery, attempts: Sequence[WebhookAttempt] | None = None) -> dict[str, Any]:
    """A delivery; with ``attempts`` (the single-resource view) its attempt history too."""
    resource: dict[str, Any] = {
        "sid": delivery.sid,
        "account_sid": delivery.account_sid,
        "resource_sid": delivery.resource_sid,
        "purpose": delivery.purpose,
        "url": delivery.url,
        "method": delivery.method,
        "params": delivery.params,
        "body_format": delivery.body_format,
        "body": delivery.body,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "date_created": rfc2822(delivery.created_at),
        "date_updated": rfc2822(delivery.updated_at),
        "date_finished": rfc2822(delivery.finished_at) if delivery.finished_at else None,
        "uri": delivery_uri(delivery),
    }
    if attempts is not None:
        resource["attempt_list"] = [attempt_resource(a) for a in attempts]
    return resource
