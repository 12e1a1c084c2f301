"""`onestack up | run | status | reset | bootstrap`."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    return {"state_dir": args.state_dir, "host": getattr(args, "host", None),
            "port": getattr(args, "port", None), "roles": getattr(args, "roles", None)}


def _settings(args: argparse.Namespace, names: list[str] | None = None,
              partial: bool = False) -> Any:
    from onestack import conf, roles
    # Importing the services first registers their config sections (``partial``: only
    # these services now, the others' sections are added by conf.extend once imported).
    roles.load(names if names is not None else roles.SERVICES)
    settings = conf.load(_flags(args), config_file=getattr(args, "config", None), partial=partial)
    conf.set_current(settings)
    return settings


def _open(settings: Any) -> None:
    from onestack import db, log
    log.setup(settings.core.log_level)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.state_dir, 0o700)
    db.init(settings.database_url)


def _register(services: list[Any], all_services: list[Any]) -> None:
    """Policies of ``services``; then every task kind and recovery of unfinished tasks."""
    from onestack import policy, tasks
    from onestack.tasks import recovery
    import onestack.tasks.models  # noqa: F401  (the tasks table)
    for spec in services:
        policy.register(spec.policies)
    for spec in all_services:
        for t in spec.tasks:
            tasks.register(t)
    recovery.recover()


def _sweep() -> None:
    from onestack.dataplane import host
    if host.has_owners():   # a real driver started: remove what a crash left behind
        host.sweep()


def prepare(settings: Any, names: list[str], admin_password: str | None = None) -> Any:
    """Everything before serving: DB, migrations, policy, recovery, service start-up."""
    from onestack import conf, policy, roles
    from onestack.db import migrate

    _open(settings)
    services = roles.load(names)
    conf.extend(settings)
    if migrate.pending():
        migrate.upgrade()
    for spec in services:
        policy.register(spec.policies)
    policy.load_file(settings.core.policy_file or str(settings.state_dir / "policy.yaml"))
    _register([], services)
    cloud = roles.Cloud(settings, services)
    if admin_password:
        cloud.admin_password = admin_password  # type: ignore[attr-defined]
    for spec in services:
        if spec.on_start is not None:
            spec.on_start(cloud)
    start_agents(cloud)
    return cloud


def start_agents(cloud: Any) -> None:
    """Every service's local agents, in service order; then one data-plane sweep."""
    for spec in cloud.services:
        if spec.agents is not None:
            spec.agents(cloud)
    _sweep()


# ---------------------------------------------------------------- staged start
# On a database already at the migration heads, `onestack up` serves identity first and
# imports/starts the other services in a background thread ("loader"); a request that
# only a service still loading can route waits for it (app.App.loading). Identity needs
# nothing from the others, and the others' on_start/recovery/task engine run in the same
# order as in a one-stage start. An empty or outdated database (migrations pending), or a
# public URL that changed since the catalog was written, starts in one stage.
def prepare_first(settings: Any, admin_password: str | None = None) -> Any | None:
    """Stage one: identity only. None when the start must be done in one stage."""
    from onestack import policy, roles
    from onestack.db import migrate

    _open(settings)
    if migrate.pending():
        return None
    from onestack.identity import bootstrap
    if not bootstrap.catalog_current(settings):
        return None
    services = roles.load(["identity"])
    for spec in services:
        policy.register(spec.policies)
    policy.load_file(settings.core.policy_file or str(settings.state_dir / "policy.yaml"))
    cloud = roles.Cloud(settings, services)
    if admin_password:
        cloud.admin_password = admin_password  # type: ignore[attr-defined]
    for spec in services:
        if spec.on_start is not None:
            spec.on_start(cloud)
    return cloud


def prepare_rest(cloud: Any, names: list[str]) -> list[Any]:
    """Stage two: import and start the services after identity (in the loader thread)."""
    from onestack import conf, roles
    from onestack.identity import bootstrap

    rest = roles.load([n for n in names if n not in {s.name for s in cloud.services}])
    conf.extend(cloud.settings)
    _register(rest, cloud.services + rest)
    bootstrap.ensure_catalog(cloud.settings, rest)
    cloud.services = cloud.services + rest
    for spec in rest:
        if spec.on_start is not None:
            spec.on_start(cloud)
    return rest


def serve(cloud: Any, pending: list[str] | None = None) -> None:
    """Serve ``cloud``; with ``pending`` service names, start those in the background."""
    import asyncio
    import threading
    import uvicorn
    from onestack.app import App
    from onestack.tasks import ENGINE

    settings = cloud.settings
    app = App(settings, cloud.services)
    status_file = settings.state_dir / "onestack.json"
    started: list[Any] = []

    def _write_status(ready: bool) -> dict[str, Any]:
        status = {"pid": os.getpid(), "url": settings.public_url,
                  "services": [s.name for s in cloud.services],
                  "clouds_yaml": str(settings.state_dir / "clouds.yaml"),
                  "started_at": started_at, "ready": ready}
        tmp = status_file.with_name(".onestack.json.tmp")
        tmp.write_text(json.dumps(status))
        os.replace(tmp, status_file)
        return status

    def _ready() -> None:
        import gc
        gc.freeze()
        gc.enable()
        ENGINE.start(settings.core.task_workers)
        started.append(True)
        status = _write_status(True)
        print(f"onestack: serving {', '.join(status['services'])} at {settings.public_url}\n"
              f"onestack: clouds.yaml at {status['clouds_yaml']} — "
              f"export OS_CLIENT_CONFIG_FILE={status['clouds_yaml']} OS_CLOUD=onestack-admin",
              flush=True)

    def _load_rest(loop: asyncio.AbstractEventLoop, names: list[str]) -> None:
        from onestack.conf import ConfigError
        def _mount(rest: list[Any]) -> None:
            app.add_services(rest)
            app.loading.set()
        try:
            rest = prepare_rest(cloud, names)
            # the APIs answer from here on; agents (driver start-up, reconcile, network
            # convergence) and the task engine follow, so a build posted meanwhile waits
            # in the durable task queue rather than racing an agent that is starting
            loop.call_soon_threadsafe(_mount, rest)
            start_agents(cloud)
        except ConfigError as e:
            print(f"onestack: configuration error: {e}", file=sys.stderr, flush=True)
            os._exit(2)
        except BaseException:
            import logging
            logging.getLogger("onestack").exception("start-up of %s failed", ", ".join(names))
            os._exit(1)
        _ready()

    if pending:
        app.loading = asyncio.Event()

        def _start_loader() -> None:
            loop = asyncio.get_running_loop()
            threading.Thread(target=_load_rest, args=(loop, pending), name="onestack-loader",
                             daemon=True).start()
        app.on_startup.append(_start_loader)
    started_at = time.time()

    def _stop() -> None:
        if started:
            ENGINE.stop()
        for spec in cloud.services:
            if spec.on_stop is not None:
                spec.on_stop()
        status_file.unlink(missing_ok=True)
    app.on_shutdown.append(_stop)
    config = uvicorn.Config(app, host=settings.core.host, port=settings.core.port,
                            log_config=None, access_log=False, lifespan="on",
                            loop="auto", http="auto", timeout_graceful_shutdown=5,
                            proxy_headers=False, server_header=False)
    server = uvicorn.Server(config)
    if pending:
        _write_status(False)
    else:
        _ready()
    server.run()


def cmd_up(args: argparse.Namespace) -> int:
    import gc
    # start-up allocates hundreds of thousands of long-lived objects (modules, models,
    # routes): no cyclic GC passes over them while importing (~8% of start-up CPU); they
    # are frozen out of later collections once the cloud is ready (serve's _ready)
    gc.disable()
    from onestack import roles
    names = roles.service_names(args.roles or "all")
    password = args.admin_password or os.environ.get("ONESTACK_ADMIN_PASSWORD")
    staged = len(names) > 1 and names[0] == "identity"
    settings = _settings(args, names[:1] if staged else names, partial=staged)
    if staged and settings.core.staged_start:
        cloud = prepare_first(settings, password)
        if cloud is not None:
            serve(cloud, pending=names[1:])
            return 0
    cloud = prepare(settings, names, password)
    serve(cloud)
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from onestack import roles
    names = roles.service_names("all")
    settings = _settings(args, names)
    prepare(settings, names, args.admin_password or os.environ.get("ONESTACK_ADMIN_PASSWORD"))
    print(f"onestack: bootstrapped {settings.state_dir}")
    return 0


def _status_file(args: argparse.Namespace) -> Path:
    state = args.state_dir or os.environ.get("ONESTACK_STATE_DIR") or "~/.local/share/onestack"
    return Path(os.path.expanduser(state)) / "onestack.json"


def cmd_status(args: argparse.Namespace) -> int:
    path = _status_file(args)
    if not path.exists():
        print(f"onestack: not running (no {path})")
        return 3
    status = json.loads(path.read_text())
    try:
        os.kill(status["pid"], 0)
        alive = True
    except OSError:
        alive = False
    try:
        with urllib.request.urlopen(status["url"] + "/identity/v3", timeout=3) as r:
            answering = r.status == 200
    except Exception:
        answering = False
    print(json.dumps({**status, "process_alive": alive, "answering": answering}, indent=2))
    return 0 if alive and answering else 1


def _teardown_dataplane(args: argparse.Namespace, state: Path) -> int:
    """Instances, namespaces, bridges... of this cloud go with its state (their ledger is in it)."""
    if not (state / "dp").exists() or os.geteuid() != 0:
        return 0
    from onestack.dataplane import host
    args.state_dir = str(state)
    _settings(args, [])
    return len(host.teardown())


def cmd_reset(args: argparse.Namespace) -> int:
    state = Path(os.path.expanduser(args.state_dir or os.environ.get("ONESTACK_STATE_DIR")
                                    or "~/.local/share/onestack"))
    path = state / "onestack.json"
    if path.exists():
        pid = json.loads(path.read_text()).get("pid")
        try:
            os.kill(pid, 0)
            print(f"onestack: refusing to reset {state}: onestack (pid {pid}) is running there")
            return 1
        except OSError:
            pass
    if not state.exists():
        print(f"onestack: nothing to reset at {state}")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            print("onestack: reset needs --yes when not run interactively")
            return 2
        answer = input(f"Delete every resource and all state under {state}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("onestack: reset cancelled")
            return 1
    removed = _teardown_dataplane(args, state)
    shutil.rmtree(state)
    print(f"onestack: wiped {state}" + (f" and removed {removed} kernel object(s)" if removed else ""))
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """``keystone-manage fernet_rotate``: promote the staged key, stage a new one, prune."""
    from onestack.identity.fernet import KeyRepository
    settings = _settings(args)
    path = settings.state_dir / "fernet-keys"
    if not path.is_dir():
        print(f"onestack: no key repository at {path} (start onestack once to create it)")
        return 1
    repo = KeyRepository(path, settings.identity.fernet_max_active_keys)
    before = repo.indexes()
    repo.rotate()
    after = repo.indexes()
    print(json.dumps({"key_repository": str(path), "max_active_keys": repo.max_active,
                      "before": before, "after": after, "primary": max(after),
                      "removed": sorted(set(before) - set(after) - {0})}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="onestack", description="An OpenStack-compatible cloud.")
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--state-dir", help="where all state lives (env ONESTACK_STATE_DIR)")
        sp.add_argument("--config", help="TOML config file (default STATE_DIR/onestack.toml)")

    up = sub.add_parser("up", help="start the whole cloud in this process (foreground)")
    common(up)
    up.add_argument("--host")
    up.add_argument("--port", type=int)
    up.add_argument("--admin-password")
    up.add_argument("--roles", help=argparse.SUPPRESS)
    up.set_defaults(fn=cmd_up)

    run = sub.add_parser("run", help="start the given roles (e.g. --roles api,compute)")
    common(run)
    run.add_argument("--roles", required=True)
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument("--admin-password")
    run.set_defaults(fn=cmd_up)

    b = sub.add_parser("bootstrap", help="create/upgrade the database and bootstrap, then exit")
    common(b)
    b.add_argument("--admin-password")
    b.set_defaults(fn=cmd_bootstrap)

    st = sub.add_parser("status", help="is onestack running here, which services, where")
    common(st)
    st.set_defaults(fn=cmd_status)

    r = sub.add_parser("reset", help="wipe all state (asks first unless --yes)")
    common(r)
    r.add_argument("--yes", action="store_true")
    r.set_defaults(fn=cmd_reset)

    k = sub.add_parser("keys", help="Fernet token keys (keystone-manage fernet_* equivalents)")
    ksub = k.add_subparsers(dest="keys_cmd", required=True)
    kr = ksub.add_parser("rotate", help="rotate the token keys: stage a new key, promote the "
                         "staged one to primary, drop the oldest beyond fernet_max_active_keys; "
                         "a running onestack picks the new keys up by itself")
    common(kr)
    kr.set_defaults(fn=cmd_keys_rotate)

    args = p.parse_args(argv)
    from onestack.conf import ConfigError
    try:
        return args.fn(args)
    except ConfigError as e:
        print(f"onestack: configuration error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
