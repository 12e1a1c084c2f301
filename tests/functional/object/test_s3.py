"""S3 on the same data, with boto3 unchanged and EC2 credentials from identity."""
from __future__ import annotations

import hashlib
import io
import os
import urllib.error
import urllib.request

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.exceptions import ClientError  # noqa: E402


def _client(cloud, name, **kw):
    cred = cloud.cli("ec2", "credentials", "create", cloud=name)
    return boto3.client("s3", endpoint_url=f"{cloud.url}/object/s3", aws_access_key_id=cred["access"],
                        aws_secret_access_key=cred["secret"], region_name="RegionOne", **kw), cred


@pytest.fixture(scope="module")
def s3(cloud):
    return _client(cloud, "onestack")[0]


@pytest.fixture
def bucket(s3, uniq):
    name = f"bkt-{uniq}"
    s3.create_bucket(Bucket=name)
    yield name
    for o in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=o["Key"])
    s3.delete_bucket(Bucket=name)


def test_put_get_head_list_same_data_as_swift(s3, bucket, demo):
    r = s3.put_object(Bucket=bucket, Key="dir/a.txt", Body=b"hello s3", Metadata={"color": "red"},
                      ContentType="text/plain")
    assert r["ETag"] == f'"{hashlib.md5(b"hello s3").hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/a.txt")
    assert got["Body"].read() == b"hello s3" and got["Metadata"] == {"color": "red"}
    assert got["ContentType"] == "text/plain"
    assert s3.head_object(Bucket=bucket, Key="dir/a.txt")["ContentLength"] == 8
    # the same object through Swift
    sw = demo.req("GET", f"/{bucket}/dir/a.txt")
    assert sw.body == b"hello s3" and sw.headers["x-object-meta-color"] == "red"
    # and a Swift upload is visible to S3
    demo.req("PUT", f"/{bucket}/from-swift", raw=b"swift", headers={"Content-Length": "5"})
    assert s3.get_object(Bucket=bucket, Key="from-swift")["Body"].read() == b"swift"
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    v2 = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in v2["Contents"]] == ["dir/a.txt", "from-swift"] and v2["KeyCount"] == 2
    v1 = s3.list_objects(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in v1["CommonPrefixes"]] == ["dir/"]
    assert [o["Key"] for o in v1["Contents"]] == ["from-swift"]
    page = s3.list_objects_v2(Bucket=bucket, MaxKeys=1)
    assert page["IsTruncated"] and len(page["Contents"]) == 1
    rest = s3.list_objects_v2(Bucket=bucket, ContinuationToken=page["NextContinuationToken"])
    assert [o["Key"] for o in rest["Contents"]] == ["from-swift"]
    s3.head_bucket(Bucket=bucket)
    rng = s3.get_object(Bucket=bucket, Key="dir/a.txt", Range="bytes=0-4")
    assert rng["Body"].read() == b"hello"


def test_errors_are_s3_shaped(s3, bucket, cloud):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="no-such-bucket-here")
    assert e.value.response["Error"]["Code"] == "NoSuchBucket"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "BucketNotEmpty"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="Bad_Name")
    assert e.value.response["Error"]["Code"] == "InvalidBucketName"
    bad = boto3.client("s3", endpoint_url=f"{cloud.url}/object/s3", aws_access_key_id="nope",
                       aws_secret_access_key="nope", region_name="RegionOne")
    with pytest.raises(ClientError) as e:
        bad.list_buckets()
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_wrong_secret_is_signature_mismatch(cloud, s3):
    _, cred = _client(cloud, "onestack")
    wrong = boto3.client("s3", endpoint_url=f"{cloud.url}/object/s3", aws_access_key_id=cred["access"],
                         aws_secret_access_key="x" + cred["secret"], region_name="RegionOne")
    with pytest.raises(ClientError) as e:
        wrong.list_buckets()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_multipart_upload(s3, bucket):
    data = os.urandom(11 << 20)
    mp = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="application/x-test",
                                    Metadata={"m": "1"})
    uid = mp["UploadId"]
    parts = []
    for i, off in enumerate(range(0, len(data), 5 << 20), start=1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=i, Body=data[off:off + (5 << 20)])
        parts.append({"PartNumber": i, "ETag": r["ETag"]})
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    assert uid in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid,
                                        MultipartUpload={"Parts": parts})
    md5s = b"".join(hashlib.md5(data[o:o + (5 << 20)]).digest() for o in range(0, len(data), 5 << 20))
    assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["ContentLength"] == len(data) and got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"m": "1"}
    assert hashlib.md5(got["Body"].read()).hexdigest() == hashlib.md5(data).hexdigest()
    # the transfer manager (upload_fileobj) uses the same API
    s3.upload_fileobj(io.BytesIO(data), bucket, "tm", Config=boto3.s3.transfer.TransferConfig(
        multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
    assert s3.get_object(Bucket=bucket, Key="tm")["Body"].read() == data
    # abort
    mp2 = s3.create_multipart_upload(Bucket=bucket, Key="gone")
    s3.upload_part(Bucket=bucket, Key="gone", UploadId=mp2["UploadId"], PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=mp2["UploadId"])
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="gone", UploadId=mp2["UploadId"])
    assert e.value.response["Error"]["Code"] == "NoSuchUpload"
    # too-small parts are refused on completion
    mp3 = s3.create_multipart_upload(Bucket=bucket, Key="small")
    p = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="small", UploadId=mp3["UploadId"],
                                                 PartNumber=n, Body=b"ab")["ETag"]} for n in (1, 2)]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=mp3["UploadId"],
                                     MultipartUpload={"Parts": p})
    assert e.value.response["Error"]["Code"] == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=mp3["UploadId"])


def test_presigned_url_copy_tagging_delete_objects(s3, bucket):
    s3.put_object(Bucket=bucket, Key="p", Body=b"presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=60)
    with urllib.request.urlopen(url) as r:
        assert r.read() == b"presigned"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    assert e.value.code == 403
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up"}, ExpiresIn=60)
    req = urllib.request.Request(put_url, data=b"via presigned put", method="PUT")
    with urllib.request.urlopen(req) as r:
        assert r.status == 200
    assert s3.get_object(Bucket=bucket, Key="up")["Body"].read() == b"via presigned put"
    r = s3.copy_object(Bucket=bucket, Key="p2", CopySource={"Bucket": bucket, "Key": "p"})
    assert r["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"presigned").hexdigest()}"'
    s3.put_object_tagging(Bucket=bucket, Key="p2", Tagging={"TagSet": [{"Key": "env", "Value": "test"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="p2")["TagSet"] == [{"Key": "env", "Value": "test"}]
    assert s3.get_object(Bucket=bucket, Key="p2")["Body"].read() == b"presigned"
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "obj"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "obj"}]
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "p"}, {"Key": "p2"}, {"Key": "up"},
                                                               {"Key": "never"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["never", "p", "p2", "up"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_s3_isolation_between_projects(cloud, s3, bucket):
    other, _ = _client(cloud, "onestack-admin")
    s3.put_object(Bucket=bucket, Key="secret", Body=b"x")
    # the admin's credential sees its own project's account: the demo bucket is not there
    assert bucket not in [b["Name"] for b in other.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as e:
        other.get_object(Bucket=bucket, Key="secret")
    assert e.value.response["Error"]["Code"] in ("NoSuchBucket", "NoSuchKey", "AccessDenied")


def test_virtual_host_style(cloud, s3, bucket):
    """Host: BUCKET.localhost (the default [object] s3_domain) names the bucket."""
    import http.client

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    s3.put_object(Bucket=bucket, Key="vh/key.txt", Body=b"virtual host")
    creds = s3._request_signer._credentials
    host = f"{bucket}.localhost:{cloud.port}"
    for method, path, want_status, want in (("GET", "/object/s3/vh/key.txt", 200, b"virtual host"),
                                            ("GET", "/object/s3?list-type=2", 200, b"<Key>vh/key.txt</Key>")):
        areq = AWSRequest(method=method, url=f"http://{host}{path}", headers={"Host": host})
        areq.context["payload_signing_enabled"] = False
        SigV4Auth(creds, "s3", "RegionOne").add_auth(areq)
        conn = http.client.HTTPConnection("127.0.0.1", cloud.port, timeout=30)
        conn.request(method, path, headers=dict(areq.headers.items()))
        r = conn.getresponse()
        body = r.read()
        assert r.status == want_status, body
        assert want in body


def test_upload_part_copy(s3, bucket):
    big = os.urandom(6 << 20)
    s3.put_object(Bucket=bucket, Key="src", Body=big)
    mp = s3.create_multipart_upload(Bucket=bucket, Key="assembled")
    uid = mp["UploadId"]
    # part 1: the first 5 MiB of src by range; part 2: the whole of a small object
    s3.put_object(Bucket=bucket, Key="tail", Body=b"tail-bytes")
    p1 = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange=f"bytes=0-{(5 << 20) - 1}")
    assert p1["CopyPartResult"]["ETag"] == f'"{hashlib.md5(big[:5 << 20]).hexdigest()}"'
    p2 = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=uid, PartNumber=2,
                             CopySource=f"{bucket}/tail")
    s3.complete_multipart_upload(Bucket=bucket, Key="assembled", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
                  {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == big[:5 << 20] + b"tail-bytes"
    # a multipart object is itself a valid copy source, ranges across its parts included
    mp2 = s3.create_multipart_upload(Bucket=bucket, Key="again")
    p = s3.upload_part_copy(Bucket=bucket, Key="again", UploadId=mp2["UploadId"], PartNumber=1,
                            CopySource=f"{bucket}/assembled",
                            CopySourceRange=f"bytes={(5 << 20) - 4}-{(5 << 20) + 3}")
    parts = s3.list_parts(Bucket=bucket, Key="again", UploadId=mp2["UploadId"])["Parts"]
    assert parts[0]["Size"] == 8 and parts[0]["ETag"] == p["CopyPartResult"]["ETag"]
    assert p["CopyPartResult"]["ETag"].strip('"') == hashlib.md5(big[(5 << 20) - 4:5 << 20]
                                                                   + b"tail").hexdigest()
    # bad ranges, missing sources and failed preconditions are S3 errors, not 500s
    for rng in ("bytes=5-1", f"bytes=0-{6 << 20}", "bytes=abc", "5-9"):
        with pytest.raises(ClientError) as e:
            s3.upload_part_copy(Bucket=bucket, Key="again", UploadId=mp2["UploadId"], PartNumber=2,
                                CopySource=f"{bucket}/src", CopySourceRange=rng)
        assert e.value.response["Error"]["Code"] == "InvalidArgument", rng
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket=bucket, Key="again", UploadId=mp2["UploadId"], PartNumber=2,
                            CopySource=f"{bucket}/nope")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket=bucket, Key="again", UploadId=mp2["UploadId"], PartNumber=2,
                            CopySource=f"{bucket}/tail", CopySourceIfMatch='"0000"')
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    s3.abort_multipart_upload(Bucket=bucket, Key="again", UploadId=mp2["UploadId"])


def _signed_chunked_put(cloud, cred, bucket, key, chunks, tamper=None):
    """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD: headers signed by botocore's SigV4, each
    chunk signed as the AWS docs describe (botocore itself does not send this framing)."""
    import datetime as dt
    import hmac
    import http.client

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    empty = hashlib.sha256(b"").hexdigest()
    host = f"127.0.0.1:{cloud.port}"
    url = f"http://{host}/object/s3/{bucket}/{key}"

    def frame(size, sig, data):
        return f"{size:x};chunk-signature={sig}\r\n".encode() + data + b"\r\n"

    amz_date = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    # the framed length does not depend on the signature values (always 64 hex digits)
    length = sum(len(frame(len(c), "0" * 64, c)) for c in [*chunks, b""])
    req = AWSRequest(method="PUT", url=url, headers={
        "Host": host, "X-Amz-Date": amz_date, "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": str(sum(map(len, chunks))),
        "Content-Length": str(length)})
    signer = SigV4Auth(Credentials(cred["access"], cred["secret"]), "s3", "RegionOne")
    signer.add_auth(req)
    amz_date = req.headers["X-Amz-Date"]          # the date the chunk chain is signed with
    day = amz_date[:8]
    seed = req.headers["Authorization"].rsplit("Signature=", 1)[1]
    k = hmac.new(f"AWS4{cred['secret']}".encode(), day.encode(), hashlib.sha256).digest()
    for part in ("RegionOne", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    body, prev = b"", seed
    for i, c in enumerate([*chunks, b""]):
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, f"{day}/RegionOne/s3/aws4_request",
                             prev, empty, hashlib.sha256(c).hexdigest()])
        prev = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        sent = tamper(i, c) if tamper else c
        body += frame(len(sent), prev, sent)
    conn = http.client.HTTPConnection("127.0.0.1", cloud.port, timeout=60)
    conn.request("PUT", f"/object/s3/{bucket}/{key}", body=body, headers=dict(req.headers.items()))
    r = conn.getresponse()
    out = r.status, r.read()
    conn.close()
    return out


def test_aws_chunked_signatures_are_verified(cloud, s3, bucket):
    cred = cloud.cli("ec2", "credentials", "create", cloud="onestack")
    chunks = [os.urandom(65536), os.urandom(65536), b"end"]
    status, body = _signed_chunked_put(cloud, cred, bucket, "streamed", chunks)
    assert status == 200, body
    assert s3.get_object(Bucket=bucket, Key="streamed")["Body"].read() == b"".join(chunks)
    # one flipped byte in the second chunk (same length): refused, nothing stored
    status, body = _signed_chunked_put(
        cloud, cred, bucket, "tampered", chunks,
        tamper=lambda i, c: (bytes([c[0] ^ 1]) + c[1:]) if i == 1 else c)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="tampered")
    assert e.value.response["Error"]["Code"] in ("404", "NoSuchKey")
