"""The bot's messaging endpoint (Bot Framework activities) and media links for carriers.

- ``POST /msteams/api/messages/{EnterpriseSid}``: the Azure bot's messaging endpoint. The
  Bot Framework's JWT is verified (→ 401 and nothing stored when it is not valid), the
  activity is queued and the request answered at once (200).
- ``GET /msteams/media/{sid}``: a file a Teams user attached, for the carrier sending the
  MMS (the sid is 128 random bits: the link is the credential, as carriers fetch media
  without authentication).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from message_exchange.core.errors import NotFound
from message_exchange.core.rendering import JSONResponse
from message_exchange.db.session import DBSession
from message_exchange.msteams import relay
from message_exchange.msteams.models import MEDIA_PREFIX
from message_exchange.msteams.repository import TeamsRepository

router = APIRouter(prefix="/msteams", tags=["Teams exchange: bridge"])


@router.post("/api/messages/{enterprise_sid}")
async def messaging_endpoint(enterprise_sid: str, request: Request, session: DBSession) -> Response:
    settings = request.app.state.settings
    base = settings.public_url or str(request.base_url)
    await relay.accept_activity(
        session, settings, enterprise_sid, request.headers.get("authorization"), await request.body(), base
    )
    return JSONResponse({})


@router.get("/media/{media_sid}")
async def media(media_sid: str, session: DBSession) -> Response:
    item = await TeamsRepository(session).media(media_sid) if media_sid.startswith(MEDIA_PREFIX) else None
    if item is None:
        raise NotFound("No such media")
    return Response(item.content, media_type=item.content_type)
