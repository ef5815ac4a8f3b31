"""Every domain's tables, imported so Alembic and tests see the whole schema."""

from __future__ import annotations

from message_exchange.accounts import models as _accounts  # noqa: F401
from message_exchange.carriers import models as _carriers  # noqa: F401
from message_exchange.carriers.smpp import models as _smpp  # noqa: F401
from message_exchange.connect import models as _connect  # noqa: F401
from message_exchange.db.base import Base
from message_exchange.exchange import models as _exchange  # noqa: F401
from message_exchange.inbound import models as _inbound  # noqa: F401
from message_exchange.jobs import models as _jobs  # noqa: F401
from message_exchange.messages import models as _messages  # noqa: F401
from message_exchange.msteams import models as _msteams  # noqa: F401
from message_exchange.numbers import models as _numbers  # noqa: F401
from message_exchange.webex import models as _webex  # noqa: F401
from message_exchange.webhooks import models as _webhooks  # noqa: F401

metadata = Base.metadata
