"""Request bodies of the Teams exchange API (JSON, as the document sends them; flat forms work too).

Every field is optional here: the services name every missing mandatory one at once (451).
Where the document spells a parameter two ways (``enterpriseSid`` / ``enterpriseId``,
``clientSecret`` / ``clientsecret``) both are accepted.
"""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class EnterpriseBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str | None = Field(default=None, description="Name of the business customer, unique in the CSP organisation.")
    status: str | None = Field(default=None, description="ACTIVE (default) or INACTIVE.")
    enterprise_admin: str | None = Field(
        default=None,
        alias="enterpriseAdmin",
        description='The admin sub-account: {"emailId": …, "password": …, "name": …}.',
    )


class EnterpriseUpdateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, description="New name; absent keeps the current one.")
    status: str | None = Field(default=None, description="ACTIVE, INACTIVE or CLOSED (final).")


_ENTERPRISE = AliasChoices("enterpriseSid", "enterpriseId", "EnterpriseSid")


class MappingBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str | None = Field(default=None, description="Friendly name; default: the microsoftAddress.")
    microsoft_address: str | None = Field(
        default=None, alias="microsoftAddress", description="The Teams user (UPN / email or Azure AD object id)."
    )
    external_address: str | None = Field(
        default=None, alias="externalAddress", description="Phone number mapped to the user, e.g. 12012852659."
    )
    enterprise_sid: str | None = Field(default=None, validation_alias=_ENTERPRISE, description="Business customer.")


class MappingUpdateBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str | None = Field(default=None, description="New friendly name.")
    microsoft_address: str | None = Field(default=None, alias="microsoftAddress", description="Another Teams user.")
    enterprise_sid: str | None = Field(
        default=None, validation_alias=_ENTERPRISE, description="Move to another business customer."
    )


class BotBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    application_id: str | None = Field(default=None, alias="applicationId", description="Azure app (Microsoft App) id.")
    tenant_id: str | None = Field(default=None, alias="tenantId", description="Azure AD tenant of the app.")
    client_secret: str | None = Field(
        default=None,
        validation_alias=AliasChoices("clientSecret", "clientsecret"),
        description="The app's client secret (stored encrypted, shown masked).",
    )
    bot_app_id: str | None = Field(default=None, alias="botAppId", description="Teams app (store) id of the bot.")
    enterprise_sid: str | None = Field(default=None, validation_alias=_ENTERPRISE, description="Business customer.")
