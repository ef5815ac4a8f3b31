"""Request bodies of the Webex exchange API (JSON, as the documents send them; forms work too)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EnterpriseBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, description="Name of the enterprise, unique in the CSP organisation.")


class MappingBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str | None = Field(default=None, description="Friendly name; default: the webexAddress.")
    webex_address: str | None = Field(
        default=None, alias="webexAddress", description="Webex user id or email; comma-separated for a group."
    )
    external_address: str | None = Field(
        default=None, alias="externalAddress", description="Phone number mapped to the Webex user(s), e.g. 12012852659."
    )


class MappingUpdateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, description="New friendly name; absent keeps the current one.")


class BotBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    access_token: str | None = Field(default=None, alias="accessToken", description="The Webex bot's access token.")
    webhook_secret: str | None = Field(
        default=None, alias="webhookSecret", description="Secret Webex signs webhooks with (X-Spark-Signature)."
    )
    public_url: str | None = Field(
        default=None,
        alias="publicUrl",
        description="Base URL Webex reaches this server at; default MX_PUBLIC_URL, else this request's base URL.",
    )
