"""Bounded property-based fuzz of compute and placement request bodies: never a 5xx."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=20),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=10), kids,
                                                                               max_size=4), max_leaves=8)
FIELDS = ["name", "imageRef", "flavorRef", "networks", "min_count", "max_count", "metadata", "key_name",
          "availability_zone", "user_data", "tags", "description", "block_device_mapping_v2", "security_groups"]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6))
def test_server_create_fuzz(cloud_token, body):
    cloud, token = cloud_token
    r = cloud.request("POST", "/compute/v2.1/servers", token, {"server": body},
                      {"OpenStack-API-Version": "compute 2.96"})
    assert r.status < 500, (body, r)
    if r.status == 202:
        sid = r.json()["server"]["id"]
        cloud.request("DELETE", f"/compute/v2.1/servers/{sid}", token)


@SETTINGS
@given(st.sampled_from(["/flavors", "/os-keypairs", "/os-aggregates", "/os-server-groups"]), JSON)
def test_compute_collections_fuzz(cloud_token, path, body):
    cloud, token = cloud_token
    r = cloud.request("POST", f"/compute/v2.1{path}", token, raw=json.dumps(body).encode(),
                      headers={"Content-Type": "application/json", "OpenStack-API-Version": "compute 2.96"})
    assert r.status < 500, (path, body, r)


@SETTINGS
@given(st.sampled_from(["2.1", "2.26", "2.47", "2.73", "2.96"]),
       st.dictionaries(st.sampled_from(["name", "status", "limit", "marker", "sort_key", "sort_dir",
                                        "changes-since", "tags", "all_tenants", "host", "image", "flavor",
                                        "ip", "locked", "deleted"]), st.text(max_size=12), max_size=4))
def test_server_list_query_fuzz(cloud_token, version, query):
    from urllib.parse import urlencode
    cloud, token = cloud_token
    r = cloud.request("GET", f"/compute/v2.1/servers/detail?{urlencode(query)}", token,
                      headers={"OpenStack-API-Version": f"compute {version}"})
    assert r.status < 500, (query, r)


@SETTINGS
@given(st.sampled_from(["1.0", "1.14", "1.28", "1.39"]),
       st.sampled_from(["/resource_providers", "/resource_classes", "/allocations"]), JSON)
def test_placement_fuzz(cloud_token, version, path, body):
    cloud, token = cloud_token
    r = cloud.request("POST", f"/placement{path}", token, raw=json.dumps(body).encode(),
                      headers={"Content-Type": "application/json", "OpenStack-API-Version": f"placement {version}"})
    assert r.status < 500, (path, body, r)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["resources", "required", "member_of", "in_tree", "limit",
                                        "group_policy", "resources1", "required1", "root_required"]),
                       st.text(max_size=25), max_size=4))
def test_allocation_candidates_query_fuzz(cloud_token, query):
    from urllib.parse import urlencode
    cloud, token = cloud_token
    r = cloud.request("GET", f"/placement/allocation_candidates?{urlencode(query)}", token,
                      headers={"OpenStack-API-Version": "placement 1.39"})
    assert r.status < 500, (query, r)
