"""One error hierarchy, rendered in each API family's envelope."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import httpx
import pytest
from starlette.responses import Response

from message_exchange.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    MethodNotAllowed,
    MXError,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamError,
)
from message_exchange.core.families import ErrorRenderer, register_family, render_error, restcomm_error, twilio_error
from message_exchange.core.rendering import JSONResponse

ERROR_KEYS = {"code", "message", "more_info", "status"}
SID = f"TH{0:032x}"
MISSING = f"TH{999:032x}"


@pytest.mark.parametrize(
    ("error_class", "status"),
    [
        (BadRequest, 400), (Unauthorized, 401), (Forbidden, 403), (NotFound, 404), (MethodNotAllowed, 405),
        (Conflict, 409), (PayloadTooLarge, 413), (UnsupportedMediaType, 415), (UpstreamError, 502),
        (ServiceUnavailable, 503), (MXError, 500),
    ],
)  # fmt: skip
def test_hierarchy_statuses_and_default_codes(error_class: type[MXError], status: int) -> None:
    error = error_class()
    assert isinstance(error, MXError)
    assert error.status_code == status
    assert error.code == error_class.default_code
    assert error.message == error_class.default_message
    assert str(error) == error.message


def test_raiser_overrides_code_message_param_status_headers() -> None:
    error = ServiceUnavailable("busy", code="7001", param="to", status_code=429, headers={"Retry-After": "3"})
    assert (error.code, error.message, error.param, error.status_code) == ("7001", "busy", "to", 429)
    assert error.headers == {"Retry-After": "3"}
    assert ServiceUnavailable().status_code == 503  # the class is untouched


def test_headers_are_per_instance() -> None:
    first = Unauthorized()
    first.headers["X-Leak"] = "1"
    assert "X-Leak" not in Unauthorized().headers
    assert "X-Leak" not in MXError().headers


def _json(response: Response) -> dict[str, object]:
    body: dict[str, object] = json.loads(bytes(response.body))
    return body


def test_restcomm_json_error_envelope() -> None:
    response = restcomm_error(NotFound("Account AC1 not found"), "/restcomm/2012-04-24/Accounts/AC1.json")
    assert isinstance(response, JSONResponse)
    assert response.status_code == 404
    assert _json(response) == {
        "code": 20404,
        "message": "Account AC1 not found",
        "more_info": "https://www.twilio.com/docs/errors/20404",
        "status": 404,
    }


def test_restcomm_xml_error_envelope() -> None:
    response = restcomm_error(BadRequest("PageSize <bad> & worse", param="PageSize"), "/restcomm/Things.xml")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/xml"
    root = ET.fromstring(response.body)
    assert root.tag == "RestcommResponse"
    assert [child.tag for child in root] == ["RestException"]
    exception = root[0]
    assert [child.tag for child in exception] == ["Code", "Message", "MoreInfo", "Status"]
    assert exception.findtext("Code") == "21100"
    assert exception.findtext("Message") == "PageSize <bad> & worse"
    assert exception.findtext("Status") == "400"


def test_twilio_error_envelope_is_json() -> None:
    response = twilio_error(BadRequest("bad To", code=21211), "/2010-04-01/Accounts/AC1/Messages.json")
    assert response.status_code == 400
    assert _json(response) == {
        "code": 21211,
        "message": "bad To",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }


def test_render_error_picks_the_family_by_path() -> None:
    twilio = render_error(NotFound(), "/2010-04-01/Accounts/AC1.xml")
    assert twilio.headers["content-type"] == "application/json"  # Twilio-shaped routes are JSON only
    restcomm = render_error(NotFound(), "/restcomm/2012-04-24/Accounts/AC1.xml")
    assert restcomm.headers["content-type"] == "application/xml"


def _marker(name: str) -> ErrorRenderer:
    def renderer(error: MXError, path: str) -> Response:
        return JSONResponse({"family": name, "path": path}, status_code=error.status_code)

    return renderer


@pytest.mark.usefixtures("restore_families")
def test_longest_prefix_wins_whatever_the_registration_order() -> None:
    register_family("/fam/deep/", _marker("deep"))
    register_family("/fam/", _marker("shallow"))
    register_family("/fam/deep/deeper/", _marker("deeper"))
    assert _json(render_error(NotFound(), "/fam/x"))["family"] == "shallow"
    assert _json(render_error(NotFound(), "/fam/deep/x"))["family"] == "deep"
    assert _json(render_error(NotFound(), "/fam/deep/deeper/x"))["family"] == "deeper"
    assert set(_json(render_error(NotFound(), "/other"))) == ERROR_KEYS  # Restcomm is the default


@pytest.mark.usefixtures("restore_families")
def test_registering_a_prefix_again_replaces_it() -> None:
    register_family("/fam/", _marker("old"))
    register_family("/fam/", _marker("new"))
    assert _json(render_error(NotFound(), "/fam/x"))["family"] == "new"


# --- through HTTP ----------------------------------------------------------------------


async def test_not_found_resource_json(core_client: httpx.AsyncClient) -> None:
    response = await core_client.get(f"/restcomm/Things/{MISSING}.json")
    assert response.status_code == 404
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["message"] == f"Thing {MISSING} not found"
    assert (body["code"], body["status"]) == (20404, 404)


async def test_not_found_resource_xml(core_client: httpx.AsyncClient) -> None:
    response = await core_client.get(f"/restcomm/Things/{MISSING}.xml")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/xml"
    exception = ET.fromstring(response.content).find("RestException")
    assert exception is not None
    assert exception.findtext("Status") == "404"


@pytest.mark.parametrize("path", ["/nowhere", "/restcomm/Nowhere.json"])
async def test_unknown_route_is_404_in_the_envelope(core_client: httpx.AsyncClient, path: str) -> None:
    response = await core_client.get(path)
    assert response.status_code == 404
    assert set(response.json()) == ERROR_KEYS


async def test_unknown_route_xml_is_404_in_xml(core_client: httpx.AsyncClient) -> None:
    response = await core_client.get("/restcomm/Nowhere.xml")
    assert response.status_code == 404
    assert ET.fromstring(response.content).find("RestException/Code") is not None


async def test_wrong_method_is_405_in_the_envelope(core_client: httpx.AsyncClient) -> None:
    response = await core_client.delete("/restcomm/Things.json")
    assert response.status_code == 405
    assert response.json()["status"] == 405
    assert "GET" in response.headers["allow"]


async def test_fastapi_validation_is_400_naming_the_parameter(core_client: httpx.AsyncClient) -> None:
    response = await core_client.get("/restcomm/Typed.json", params={"count": "many"})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert "count" in body["message"]


async def test_unexpected_exception_is_500_without_internals(core_client: httpx.AsyncClient) -> None:
    response = await core_client.get("/restcomm/Boom.json")
    assert response.status_code == 500
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert "passwd" not in response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize("path", ["/restcomm/Secret", "/restcomm/Secret.json", "/restcomm/Secret.xml",
                                  f"/2010-04-01/Accounts/{SID}.json"])  # fmt: skip
async def test_401_carries_www_authenticate_basic(core_client: httpx.AsyncClient, path: str) -> None:
    response = await core_client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic ")


async def test_twilio_family_over_http(core_client: httpx.AsyncClient) -> None:
    response = await core_client.post(f"/2010-04-01/Accounts/{SID}/Messages.json", data={"To": "x"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "code": 21211,
        "message": "The 'To' number is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }
