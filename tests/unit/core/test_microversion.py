"""Microversion negotiation as upstream does it."""
from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from onestack import errors
from onestack.api.microversion import APIVersion, negotiate, response_headers
from onestack.api.routing import MicroversionSpec

NOVA = MicroversionSpec("compute", "2.1", "2.96", legacy_headers=("X-OpenStack-Nova-API-Version",))
PLACEMENT = MicroversionSpec("placement", "1.0", "1.39")


def H(**kw):
    return Headers({k.replace("_", "-"): v for k, v in kw.items()})


def test_no_header_is_the_minimum():
    assert negotiate(H(), NOVA) == APIVersion("2.1")
    assert negotiate(H(), PLACEMENT) == "1.0"


def test_latest_is_the_maximum():
    assert negotiate(H(openstack_api_version="compute latest"), NOVA) == "2.96"
    assert negotiate(H(openstack_api_version="placement LATEST"), PLACEMENT) == "1.39"


def test_explicit_version_in_range():
    assert negotiate(H(openstack_api_version="compute 2.53"), NOVA) == APIVersion((2, 53))


def test_header_for_another_service_is_ignored():
    assert negotiate(H(openstack_api_version="volume 3.50"), NOVA) == "2.1"
    assert negotiate(H(openstack_api_version="volume 3.50, compute 2.10"), NOVA) == "2.10"


@pytest.mark.parametrize("value", ["compute 2.97", "compute 3.0", "compute 1.1", "compute 2.0"])
def test_out_of_range_is_406(value):
    with pytest.raises(errors.NotAcceptable) as e:
        negotiate(H(openstack_api_version=value), NOVA)
    assert e.value.code == 406
    assert "Minimum is 2.1 and maximum is 2.96" in e.value.message


@pytest.mark.parametrize("value", ["compute 2", "compute 2.x", "compute abc", "compute 02.1",
                                   "compute 2.1.1", "compute -2.1"])
def test_malformed_is_400(value):
    with pytest.raises(errors.BadRequest) as e:
        negotiate(H(openstack_api_version=value), NOVA)
    assert e.value.code == 400 and "invalid format" in e.value.message


def test_legacy_header():
    assert negotiate(H(x_openstack_nova_api_version="2.37"), NOVA) == "2.37"
    assert negotiate(H(x_openstack_nova_api_version="latest"), NOVA) == "2.96"
    # the new header wins over the legacy one
    assert negotiate(H(openstack_api_version="compute 2.60", x_openstack_nova_api_version="2.37"),
                     NOVA) == "2.60"
    with pytest.raises(errors.NotAcceptable):
        negotiate(H(x_openstack_nova_api_version="2.500"), NOVA)


def test_plain_dict_headers_work_too():
    assert negotiate({"openstack-api-version": "placement 1.10"}, PLACEMENT) == "1.10"


def test_response_headers():
    h = response_headers(NOVA, APIVersion("2.53"))
    assert h["OpenStack-API-Version"] == "compute 2.53"
    assert h["X-OpenStack-Nova-API-Version"] == "2.53"
    assert "OpenStack-API-Version" in h["Vary"] and "X-OpenStack-Nova-API-Version" in h["Vary"]
    assert response_headers(PLACEMENT, APIVersion("1.2")) == {
        "OpenStack-API-Version": "placement 1.2", "Vary": "OpenStack-API-Version"}


def test_version_ordering_and_matches():
    assert APIVersion("2.10") > APIVersion("2.9")
    assert APIVersion("2.10") == "2.10" and hash(APIVersion("2.10")) == hash(APIVersion((2, 10)))
    v = APIVersion("2.50")
    assert v.matches("2.1", "2.50") and v.matches(None, None) and v.matches("2.50")
    assert not v.matches("2.51") and not v.matches(max_version="2.49")
    assert str(v) == "2.50"
    with pytest.raises(ValueError):
        APIVersion("2.1a")
