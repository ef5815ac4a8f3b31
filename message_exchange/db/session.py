"""The request's transaction: commit when the endpoint returns, roll back if it raises.

``scope="function"`` makes the commit happen before the response is sent, so a client that
got a 2xx knows its write (and any job enqueued with it) is durable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.session_factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


DBSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
