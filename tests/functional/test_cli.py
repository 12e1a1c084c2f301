"""The `onestack` command the way an operator uses it: status, reset, restart, state dir,
admin password, key rotation."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid

import pytest
import yaml

from tests.harness import BIN, TEST_ENV, RunningCloud, free_port


def admin_token(cloud: RunningCloud) -> str:
    r = cloud.password_token()
    assert r.status == 201, r
    return r.headers["x-subject-token"]


def validate(cloud: RunningCloud, token: str, subject: str) -> int:
    return cloud.request("GET", "/v3/auth/tokens", token=token,
                         headers={"X-Subject-Token": subject}).status


def test_status_running_stopped_and_crashed(fresh_cloud):
    sd = str(fresh_cloud.state_dir)
    r = fresh_cloud.onestack("status", "--state-dir", sd)
    assert r.returncode == 0, r.stdout + r.stderr
    status = json.loads(r.stdout)
    assert status["answering"] and status["process_alive"]
    assert status["url"] == fresh_cloud.url and "identity" in status["services"]
    assert status["pid"] == fresh_cloud.proc.pid
    fresh_cloud.stop()
    r = fresh_cloud.onestack("status", "--state-dir", sd)
    assert r.returncode == 3 and "not running" in r.stdout
    fresh_cloud.launch()
    fresh_cloud.kill9()   # the status file stays behind; the process is gone
    r = fresh_cloud.onestack("status", "--state-dir", sd)
    assert r.returncode == 1
    assert json.loads(r.stdout)["process_alive"] is False


def test_reset_refuses_while_running_and_wipes_when_stopped(fresh_cloud):
    sd = str(fresh_cloud.state_dir)
    r = fresh_cloud.onestack("reset", "--yes", "--state-dir", sd)
    assert r.returncode == 1 and "refusing" in r.stdout
    assert (fresh_cloud.state_dir / "onestack.db").exists()
    fresh_cloud.stop()
    r = fresh_cloud.onestack("reset", "--state-dir", sd)         # no tty, no --yes
    assert r.returncode == 2 and "--yes" in r.stdout
    assert fresh_cloud.state_dir.exists()
    r = fresh_cloud.onestack("reset", "--yes", "--state-dir", sd)
    assert r.returncode == 0 and "wiped" in r.stdout
    assert not fresh_cloud.state_dir.exists()
    r = fresh_cloud.onestack("reset", "--yes", "--state-dir", sd)
    assert r.returncode == 0 and "nothing to reset" in r.stdout
    # a wiped cloud starts again from scratch, with new credentials
    fresh_cloud.launch()
    assert admin_token(fresh_cloud)


def test_restart_keeps_all_state(fresh_cloud):
    c = fresh_cloud
    tok = admin_token(c)
    name = f"keep-{uuid.uuid4().hex[:8]}"
    r = c.request("POST", "/v3/projects", token=tok, body={"project": {"name": name,
                                                                         "description": "kept"}})
    assert r.status == 201, r
    project_id = r.json()["project"]["id"]
    doomed = admin_token(c)
    assert c.request("DELETE", "/v3/auth/tokens", token=tok,
                     headers={"X-Subject-Token": doomed}).status == 204
    password = c.admin_password
    keys = sorted(p.name for p in (c.state_dir / "fernet-keys").iterdir())

    c.restart()
    assert c.admin_password == password                     # clouds.yaml unchanged
    assert sorted(p.name for p in (c.state_dir / "fernet-keys").iterdir()) == keys
    assert validate(c, tok, tok) == 200                     # issued before the restart
    assert validate(c, tok, doomed) == 404                  # revoked before the restart
    assert c.request("GET", "/v3/auth/projects", token=doomed).status == 401
    r = c.request("GET", f"/v3/projects/{project_id}", token=tok)
    assert r.status == 200 and r.json()["project"]["name"] == name

    c.kill9()
    c.launch()
    assert validate(c, tok, tok) == 200 and validate(c, tok, doomed) == 404
    assert c.request("GET", f"/v3/projects/{project_id}", token=tok).status == 200


def test_state_dir_from_the_environment(tmp_path):
    state = tmp_path / "from-env"
    port = free_port()
    env = {**os.environ, **TEST_ENV, "ONESTACK_STATE_DIR": str(state), "ONESTACK_PORT": str(port)}
    env.pop("OS_CLOUD", None)
    log = open(tmp_path / "env.log", "wb")
    proc = subprocess.Popen([str(BIN / "onestack"), "up"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "env.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/identity/v3", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "onestack did not start"
                time.sleep(0.1)
        assert (state / "clouds.yaml").exists() and (state / "onestack.db").exists()
        clouds = yaml.safe_load((state / "clouds.yaml").read_text())["clouds"]
        assert clouds["onestack-admin"]["auth"]["auth_url"] == f"http://127.0.0.1:{port}/identity/v3"
        r = subprocess.run([str(BIN / "onestack"), "status"], env=env, capture_output=True, text=True)
        assert r.returncode == 0 and json.loads(r.stdout)["pid"] == proc.pid
        r = subprocess.run([str(BIN / "onestack"), "reset", "--yes"], env=env, capture_output=True,
                           text=True)
        assert r.returncode == 1 and str(state) in r.stdout
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
    assert not (state / "onestack.json").exists()     # a clean stop removes the status file


def test_admin_password_flag_resets_the_admin_password(fresh_cloud):
    c = fresh_cloud
    old = c.admin_password
    c.stop()
    c.extra_args = ["--admin-password", "n3w-Secret-pw"]
    c.launch()
    assert c.admin_password == "n3w-Secret-pw"             # clouds.yaml follows
    assert c.password_token(password="n3w-Secret-pw").status == 201
    assert c.password_token(password=old).status == 401
    # without the flag the password stays what it now is
    c.stop()
    c.extra_args = []
    c.launch()
    assert c.password_token(password="n3w-Secret-pw").status == 201


def test_keys_rotate(fresh_cloud):
    c = fresh_cloud
    sd = str(c.state_dir)
    before = admin_token(c)
    assert validate(c, before, before) == 200
    r = c.onestack("keys", "rotate", "--state-dir", sd)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["before"] == [0, 1] and out["after"] == [0, 1, 2] and out["primary"] == 2
    time.sleep(1.2)
    after = admin_token(c)
    assert after != before
    assert validate(c, after, before) == 200      # issued before one rotation: still valid
    assert validate(c, after, after) == 200
    out = json.loads(c.onestack("keys", "rotate", "--state-dir", sd).stdout)
    assert out["after"] == [0, 2, 3] and out["removed"] == [1]
    time.sleep(1.2)                                # the running server notices within ~1 s
    assert validate(c, after, before) == 404      # its key was pruned (max_active_keys = 3)
    assert c.request("GET", "/v3/auth/projects", token=before).status == 401
    assert validate(c, after, after) == 200
    # ONESTACK_STATE_DIR works for the command too
    r = c.onestack("keys", "rotate", env={"ONESTACK_STATE_DIR": sd})
    assert r.returncode == 0 and json.loads(r.stdout)["primary"] == 4


def test_keys_rotate_without_a_repository(tmp_path):
    r = subprocess.run([str(BIN / "onestack"), "keys", "rotate", "--state-dir", str(tmp_path / "x")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "no key repository" in r.stdout


def test_bad_configuration_is_a_clear_error(tmp_path):
    state = tmp_path / "bad"
    state.mkdir()
    (state / "onestack.toml").write_text("[identity]\ntoken_expiration = \"soon\"\n")
    r = subprocess.run([str(BIN / "onestack"), "up", "--state-dir", str(state), "--port",
                        str(free_port())], capture_output=True, text=True, timeout=60,
                       env={**os.environ, **TEST_ENV})
    assert r.returncode != 0
    assert "[identity] token_expiration: expected an integer, got 'soon'" in r.stderr
