"""/v3/credentials, OS-EC2 credentials and POST /v3/ec2tokens."""
from __future__ import annotations

import hashlib
import json
from urllib.parse import urlsplit

import pytest
import sqlalchemy

from tests.factories.identity import Admin, make_project_user


@pytest.fixture(scope="module")
def adm(cloud):
    return Admin(cloud)


@pytest.fixture(scope="module")
def member(cloud, adm):
    return make_project_user(cloud, "member", adm)


def test_crud_encrypted_at_rest_and_owner_only(cloud, adm, member):
    body = {"credential": {"type": "cert", "blob": "top-secret-blob", "user_id": member.user_id}}
    r = cloud.request("POST", "/v3/credentials", token=member.token, body=body)
    assert r.status == 201, r
    cred = r.json()["credential"]
    assert cred["blob"] == "top-secret-blob" and cred["user_id"] == member.user_id
    url = cloud.env.get("ONESTACK_DATABASE_URL") or f"sqlite:///{cloud.state_dir / 'onestack.db'}"
    eng = sqlalchemy.create_engine(url)   # the blob is not stored in clear text
    with eng.connect() as con:
        stored = con.execute(sqlalchemy.text("select encrypted_blob from identity_credentials where id=:i"),
                             {"i": cred["id"]}).scalar()
    eng.dispose()
    assert stored and "top-secret-blob" not in stored
    # the owner sees it, the admin sees it, another user does not
    other = make_project_user(cloud, "member", adm)
    assert cloud.request("GET", f"/v3/credentials/{cred['id']}", token=member.token).status == 200
    assert cloud.request("GET", f"/v3/credentials/{cred['id']}", token=other.token).status == 403
    mine = cloud.request("GET", "/v3/credentials", token=member.token).json()["credentials"]
    assert [c["id"] for c in mine] == [cred["id"]]
    assert cloud.request("GET", "/v3/credentials", token=other.token).json()["credentials"] == []
    assert cred["id"] in {c["id"] for c in adm.call("GET", "/v3/credentials?type=cert")["credentials"]}
    # a user cannot create one for somebody else
    r = cloud.request("POST", "/v3/credentials", token=other.token, body=body)
    assert r.status == 403
    upd = cloud.request("PATCH", f"/v3/credentials/{cred['id']}", token=member.token,
                        body={"credential": {"blob": "rotated"}})
    assert upd.status == 200 and upd.json()["credential"]["blob"] == "rotated"
    assert cloud.request("DELETE", f"/v3/credentials/{cred['id']}", token=other.token).status == 403
    assert cloud.request("DELETE", f"/v3/credentials/{cred['id']}", token=member.token).status == 204
    assert cloud.request("GET", f"/v3/credentials/{cred['id']}", token=adm.token).status == 404


def test_ec2_type_validation(cloud, adm, member):
    blob = json.dumps({"access": "AK-" + member.user_id, "secret": "s"})
    base = {"type": "ec2", "blob": blob, "user_id": member.user_id}
    r = cloud.request("POST", "/v3/credentials", token=adm.token, body={"credential": base})
    assert r.status == 400   # ec2 needs a project
    for bad in ({**base, "project_id": member.project_id, "blob": "not json"},
                {**base, "project_id": member.project_id, "id": "wrong"},
                {"type": "ec2", "user_id": member.user_id}, {"type": 3, "blob": "x", "user_id": "u"}):
        r = cloud.request("POST", "/v3/credentials", token=adm.token, body={"credential": bad})
        assert r.status == 400, (bad, r)
    c = adm.call("POST", "/v3/credentials", {"credential": {**base, "project_id": member.project_id}})["credential"]
    assert c["id"] == hashlib.sha256(("AK-" + member.user_id).encode()).hexdigest()
    r = cloud.request("POST", "/v3/credentials", token=adm.token,
                      body={"credential": {**base, "project_id": member.project_id}})
    assert r.status == 409
    # the access key may be rotated (the id stays); trust_id may not change
    rotated = json.dumps({"access": "AK2-" + member.user_id, "secret": "s2"})
    upd = adm.call("PATCH", f"/v3/credentials/{c['id']}", {"credential": {"blob": rotated}})["credential"]
    assert upd["id"] == c["id"] and json.loads(upd["blob"])["access"] == "AK2-" + member.user_id
    shown = adm.call("GET", f"/v3/users/{member.user_id}/credentials/OS-EC2/AK2-{member.user_id}")
    assert shown["credential"]["secret"] == "s2"
    r = cloud.request("PATCH", f"/v3/credentials/{c['id']}", token=adm.token, body={"credential": {
        "blob": json.dumps({"access": "AK2-" + member.user_id, "secret": "s2", "trust_id": "t"})}})
    assert r.status == 400
    adm.call("DELETE", f"/v3/credentials/{c['id']}")


def test_ec2_cli_and_ec2tokens(cloud, adm):
    made = cloud.cli("ec2", "credentials", "create")
    access, secret = made["access"], made["secret"]
    assert access and secret
    listed = cloud.cli("ec2", "credentials", "list")
    assert access in {c["Access"] for c in listed}
    shown = cloud.cli("ec2", "credentials", "show", access)
    assert shown["secret"] == secret

    botocore_auth = pytest.importorskip("botocore.auth")
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = cloud.url + "/v1/?Action=DescribeInstances&Version=2016-11-15"
    req = AWSRequest(method="GET", url=url, headers={"Host": urlsplit(cloud.url).netloc})
    botocore_auth.SigV4Auth(Credentials(access, secret), "ec2", "RegionOne").add_auth(req)
    headers = dict(req.headers.items())
    sig = headers["Authorization"].split("Signature=")[1]
    creds = {"access": access, "signature": sig, "host": urlsplit(cloud.url).netloc, "verb": "GET",
             "path": "/v1/", "params": {"Action": "DescribeInstances", "Version": "2016-11-15"},
             "headers": headers, "body_hash": hashlib.sha256(b"").hexdigest()}
    r = cloud.request("POST", "/v3/ec2tokens", body={"credentials": creds})
    assert r.status == 200, r
    tok = r.json()["token"]
    assert tok["project"]["name"] == "admin" and "ec2credential" in tok["methods"]
    assert cloud.request("GET", "/v3/auth/projects", token=r.headers["x-subject-token"]).status == 200
    bad = cloud.request("POST", "/v3/ec2tokens", body={"credentials": {**creds, "signature": "0" * 64}})
    assert bad.status == 401 and bad.json()["error"]["code"] == 401
    unknown = cloud.request("POST", "/v3/ec2tokens", body={"credentials": {**creds, "access": "nope"}})
    assert unknown.status == 401
    assert cloud.request("POST", "/v3/ec2tokens", body={"credentials": "x"}).status == 400

    # SigV2 (query signing)
    v2 = AWSRequest(method="GET", url=cloud.url + "/v1/", params={"Action": "DescribeRegions"})
    botocore_auth.SigV2Auth(Credentials(access, secret)).add_auth(v2)
    params = dict(v2.params)
    sig2 = params.pop("Signature")
    r2 = cloud.request("POST", "/v3/ec2tokens", body={"credentials": {
        "access": access, "signature": sig2, "host": urlsplit(cloud.url).netloc, "verb": "GET",
        "path": "/v1/", "params": params}})
    assert r2.status == 200, r2

    cloud.cli("ec2", "credentials", "delete", access, json_out=False)
    assert access not in {c["Access"] for c in cloud.cli("ec2", "credentials", "list")}
    assert cloud.request("POST", "/v3/ec2tokens", body={"credentials": creds}).status == 401


def test_ec2_other_user_is_refused(cloud, adm, member):
    r = cloud.request("POST", f"/v3/users/{member.user_id}"
                      "/credentials/OS-EC2", token=member.token, body={"tenant_id": member.project_id})
    assert r.status == 201
    access = r.json()["credential"]["access"]
    other = make_project_user(cloud, "member", adm)
    path = f"/v3/users/{member.user_id}/credentials/OS-EC2"
    assert cloud.request("GET", path, token=other.token).status == 403
    assert cloud.request("POST", path, token=other.token, body={"tenant_id": other.project_id}).status == 403
    assert cloud.request("GET", f"{path}/{access}", token=other.token).status == 403
    assert cloud.request("GET", f"{path}/{access}", token=member.token).status == 200
    assert cloud.request("POST", path, token=member.token, body={"tenant_id": "nope"}).status == 404
    assert cloud.request("POST", path, token=member.token, body={}).status == 400
    assert cloud.request("DELETE", f"{path}/{access}", token=member.token).status == 204


def test_oauth1_consumers(cloud, adm, member):
    base = "/v3/OS-OAUTH1/consumers"
    c = adm.call("POST", base, {"consumer": {"description": "app"}})["consumer"]
    assert c["secret"] and c["description"] == "app"
    shown = adm.call("GET", f"{base}/{c['id']}")["consumer"]
    assert "secret" not in shown and shown["description"] == "app"
    assert adm.call("PATCH", f"{base}/{c['id']}", {"consumer": {"description": "new"}})["consumer"][
        "description"] == "new"
    r = cloud.request("PATCH", f"{base}/{c['id']}", token=adm.token, body={"consumer": {"secret": "x"}})
    assert r.status == 400
    assert c["id"] in {x["id"] for x in adm.call("GET", base)["consumers"]}
    assert cloud.request("GET", base, token=member.token).status == 403
    adm.call("DELETE", f"{base}/{c['id']}")
    assert cloud.request("GET", f"{base}/{c['id']}", token=adm.token).status == 404
