"""Start a real onestack server (subprocess) and drive it the way users do.

    cloud = RunningCloud.start(tmp_path)          # `onestack up` on a free port
    conn = cloud.sdk()                            # openstacksdk, admin (clouds.yaml)
    cloud.cli("project", "list")                  # unchanged `openstack` CLI, JSON parsed
    cloud.kill9(); cloud.restart()
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# Fast bcrypt in tests (upstream minimum); the benchmark uses the upstream default (12).
# Control-plane tests run on the fake drivers (fast, no root); tests/dataplane passes
# ONESTACK_COMPUTE__DRIVER=container|qemu and ONESTACK_NETWORK__DRIVER=linux in ``env``.
TEST_ENV = {"ONESTACK_IDENTITY__PASSWORD_HASH_ROUNDS": "4", "ONESTACK_LOG_LEVEL": "WARNING",
            "ONESTACK_COMPUTE__DRIVER": "fake", "ONESTACK_NETWORK__DRIVER": "fake"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningCloud:
    def __init__(self, state_dir: Path, port: int, env: dict[str, str] | None = None,
                 database_url: str | None = None, roles: str | None = None):
        self.state_dir = Path(state_dir)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, **TEST_ENV, **(env or {})}
        self.env.pop("OS_CLOUD", None)
        if database_url:
            self.env["ONESTACK_DATABASE_URL"] = database_url
        self.roles = roles
        self.extra_args: list[str] = []   # appended to `onestack up` (e.g. --admin-password)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.state_dir.parent / f"{self.state_dir.name}.log"

    @classmethod
    def start(cls, state_dir: Path, **kw: Any) -> "RunningCloud":
        c = cls(state_dir, free_port(), **kw)
        c.launch()
        return c

    # ------------------------------------------------------------ lifecycle
    def launch(self, timeout: float = 60.0) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = [str(BIN / "onestack"), "up", "--state-dir", str(self.state_dir),
               "--port", str(self.port)]
        if self.roles:
            cmd += ["--roles", self.roles]
        cmd += self.extra_args
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"onestack exited with {self.proc.returncode}:\n{self.log_tail()}")
            # answering is not enough: the staged start mounts the APIs first and marks the
            # cloud ready (status file) once the agents started and the data plane was swept
            if self.ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"onestack was not ready within {timeout}s:\n{self.log_tail()}")

    def ready(self) -> bool:
        """`onestack status`'s test: this process wrote ready and identity answers."""
        try:
            status = json.loads((self.state_dir / "onestack.json").read_text())
        except (OSError, ValueError):
            return False
        if not status.get("ready") or status.get("pid") != self.proc.pid:
            return False
        try:
            with urllib.request.urlopen(self.url + "/identity/v3", timeout=1) as r:
                return r.status == 200
        except Exception:
            return False

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc = None

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.launch()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # ------------------------------------------------------------ clients
    @property
    def clouds_yaml(self) -> Path:
        return self.state_dir / "clouds.yaml"

    def cloud_config(self, name: str = "onestack-admin") -> dict[str, Any]:
        return yaml.safe_load(self.clouds_yaml.read_text())["clouds"][name]

    @property
    def admin_password(self) -> str:
        return self.cloud_config()["auth"]["password"]

    def sdk(self, cloud: str = "onestack-admin", **auth: Any) -> Any:
        """An openstacksdk Connection from clouds.yaml (``auth`` overrides its auth keys)."""
        import openstack
        cfg = self.cloud_config(cloud)
        if auth:
            cfg = {**cfg, "auth": {**cfg["auth"], **auth}}
        return openstack.connect(**cfg)

    def sdk_as(self, username: str, password: str, project: str | None = None,
               domain: str | None = None, system: bool = False, user_domain: str = "Default") -> Any:
        import openstack
        auth: dict[str, Any] = {"auth_url": f"{self.url}/identity/v3", "username": username,
                                "password": password, "user_domain_name": user_domain}
        if project:
            auth.update(project_name=project, project_domain_name=user_domain)
        elif domain:
            auth["domain_name"] = domain
        elif system:
            auth["system_scope"] = "all"
        return openstack.connect(auth=auth, region_name="RegionOne", identity_api_version=3)

    def cli(self, *args: str, cloud: str = "onestack-admin", json_out: bool = True,
            check: bool = True, env: dict[str, str] | None = None) -> Any:
        """Run the unchanged `openstack` CLI against this cloud; parse -f json output."""
        cmd = [str(BIN / "openstack"), "--os-cloud", cloud, *args]
        wants_format = json_out and args and args[-1] != "--" and not any(
            a in ("-f", "--format") for a in args)
        if wants_format:
            cmd += ["-f", "json"]
        e = {**self.env, "OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml), **(env or {})}
        r = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise CLIError(cmd, r.returncode, r.stdout, r.stderr)
        if not wants_format or r.returncode != 0:
            return r
        out = r.stdout.strip()
        return json.loads(out) if out else None

    def request(self, method: str, path: str, token: str | None = None, body: Any = None,
                headers: dict[str, str] | None = None, raw: bytes | None = None) -> "Response":
        """A raw HTTP request (for bad-input tests): returns status, headers, parsed body."""
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        h = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if token:
            h["X-Auth-Token"] = token
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        payload = r.read()
        conn.close()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, payload)

    def token(self, cloud: str = "onestack-admin") -> str:
        return self.sdk(cloud).auth_token

    def password_token(self, username: str = "admin", password: str | None = None,
                       project: str | None = "admin") -> Response:
        """POST /v3/auth/tokens with a password (raw HTTP); the token is in x-subject-token."""
        auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": {
            "name": username, "domain": {"id": "default"},
            "password": self.admin_password if password is None else password}}}}
        if project:
            auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
        return self.request("POST", "/v3/auth/tokens", body={"auth": auth})

    def onestack(self, *args: str, env: dict[str, str] | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess:
        """Run the `onestack` command (status, reset, keys rotate, ...) for this state dir."""
        return subprocess.run([str(BIN / "onestack"), *args], env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.body[:300]!r}>"


class CLIError(Exception):
    def __init__(self, cmd: list[str], code: int, stdout: str, stderr: str):
        super().__init__(f"{' '.join(cmd[1:])} exited {code}\nstdout: {stdout[-2000:]}\n"
                         f"stderr: {stderr[-2000:]}")
        self.code, self.stdout, self.stderr = code, stdout, stderr


class PostgresServer:
    """A throw-away PostgreSQL server (initdb into a temp dir, unix socket + 127.0.0.1 on a
    free port, trust auth) for running the suite against PostgreSQL.

        pg = PostgresServer.start(tmp_dir)        # raises PostgresUnavailable with the reason
        url = pg.create_database()                # postgresql+psycopg://... of a new database
        pg.stop()
    """

    def __init__(self, base: Path):
        self.base = Path(base)
        self.data = self.base / "data"
        self.sock = self.base / "sock"
        self.port = free_port()
        self.bindir = self.find_bindir()
        self._n = 0

    @staticmethod
    def find_bindir() -> Path:
        import glob
        for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
            if (Path(candidate) / "initdb").exists():
                return Path(candidate)
        found = shutil.which("initdb")
        if found:
            return Path(found).resolve().parent
        raise PostgresUnavailable("no PostgreSQL server binaries (Debian package 'postgresql')")

    def _as_owner(self, *cmd: str) -> list[str]:
        """PostgreSQL refuses to run as root: run its tools as the 'postgres' user then."""
        if os.geteuid() != 0:
            return list(cmd)
        import pwd
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable("running as root and there is no 'postgres' user") from None
        return ["runuser", "-u", "postgres", "--", *cmd]

    @classmethod
    def start(cls, base: Path, timeout: float = 60.0) -> "PostgresServer":
        pg = cls(base)
        pg.base.mkdir(parents=True, exist_ok=True)
        pg.sock.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            import pwd
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root and there is no 'postgres' user") from None
            os.chmod(pg.base, 0o755)
            for p in (pg.base, pg.sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            # every parent must be traversable by the postgres user
            for parent in pg.base.parents:
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o711)
        r = subprocess.run(pg._as_owner(str(pg.bindir / "initdb"), "-D", str(pg.data), "-A", "trust",
                                        "-U", "postgres", "-E", "UTF8", "--no-sync"),
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {r.stderr.strip()[-500:]}")
        opts = (f"-c listen_addresses=127.0.0.1 -c port={pg.port} "
                f"-c unix_socket_directories={pg.sock} -c fsync=off -c synchronous_commit=off "
                f"-c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB")
        r = subprocess.run(pg._as_owner(str(pg.bindir / "pg_ctl"), "-D", str(pg.data), "-l",
                                        str(pg.base / "server.log"), "-o", opts, "-w", "-t",
                                        str(int(timeout)), "start"),
                           capture_output=True, text=True, timeout=timeout + 30)
        if r.returncode != 0:
            log = (pg.base / "server.log")
            tail = log.read_text()[-1000:] if log.exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {r.stderr.strip()} {tail}")
        return pg

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        self._n += 1
        name = name or f"onestack_{os.getpid()}_{self._n}"
        import psycopg
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(self._as_owner(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m",
                                      "immediate", "-w", "stop"), capture_output=True, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


class PostgresUnavailable(Exception):
    """This machine cannot run a PostgreSQL server (the reason is the message)."""
