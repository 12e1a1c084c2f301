"""The one policy engine.

Rules use oslo.policy's syntax and are parsed and evaluated by oslo.policy's own parser
and checks. Each service declares its defaults in ``<svc>/policies.py`` as a list of
:class:`Rule` and registers them here; the operator overrides any rule in
``policy.yaml`` (the oslo.policy file format). Scope: a rule may list the token scopes
it accepts (``scope_types``); a token of another scope is refused, as upstream does with
``enforce_scope = True``.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from typing import Any, Iterable

from oslo_policy import _checks, _parser

from onestack import errors

log = logging.getLogger(__name__)

# oslo.policy looks up "extension" check kinds through stevedore (entry points), which
# costs a scan of every installed distribution (~1 s at start-up) and only ever finds
# its http:/https: checks (a remote call per policy decision), which onestack does not
# offer. Seed the table so that scan never happens.
if _checks.extension_checks is None:
    _checks.extension_checks = {}

# oslo.policy's _check() asks inspect.getfullargspec() on every nested check of every
# decision whether the check takes ``current_rule`` (~0.1 ms each); the answer depends only
# on the check's class, so remember it. Same semantics, called the same way by And/Or/Not/
# RuleCheck (they look ``_check`` up in the module at call time).
_ARITY: dict[Any, bool] = {}


def _check_cached(rule: Any, target: Any, creds: Any, enforcer: Any, current_rule: Any) -> bool:
    call = type(rule).__call__
    new_style = _ARITY.get(call)
    if new_style is None:
        import inspect
        new_style = _ARITY[call] = len(inspect.getfullargspec(rule.__call__).args) > 4
    if new_style:
        return rule(target, creds, enforcer, current_rule)
    return rule(target, creds, enforcer)


_checks._check = _check_cached


@dataclasses.dataclass(frozen=True)
class Rule:
    name: str
    check_str: str
    description: str = ""
    scope_types: tuple[str, ...] = ()
    operations: tuple[tuple[str, str], ...] = ()  # (method, path) for docs


class _Engine:
    def __init__(self) -> None:
        self.defaults: dict[str, Rule] = {}
        self.overrides: dict[str, str] = {}
        self.rules: dict[str, Any] = {}   # name -> parsed check (oslo.policy checks read this)
        self._lock = threading.Lock()
        self._file: str | None = None
        self._file_mtime: float | None = None
        self._checked = 0.0
        # policy.yaml is looked at (one stat) at most this often; edits apply within it.
        self.reload_interval = 1.0

    def register(self, rules: Iterable[Rule]) -> None:
        with self._lock:
            for rule in rules:
                if rule.name in self.defaults and self.defaults[rule.name] != rule:
                    raise ValueError(f"policy rule {rule.name!r} registered twice")
                self.defaults[rule.name] = rule
                self.rules[rule.name] = _parser.parse_rule(self.overrides.get(rule.name, rule.check_str))

    def load_file(self, path: str | None) -> None:
        self._file = path
        self._reload_if_changed(force=True)

    def _reload_if_changed(self, force: bool = False) -> None:
        path = self._file
        if not path:
            return
        if not force:
            now = time.monotonic()
            if now - self._checked < self.reload_interval:
                return
            self._checked = now
        try:
            mtime = os.stat(path).st_mtime
        except FileNotFoundError:
            mtime = None
        if not force and mtime == self._file_mtime:
            return
        overrides: dict[str, str] = {}
        if mtime is not None:
            import yaml
            with open(path) as f:
                data = yaml.safe_load(f) or {}
            if not isinstance(data, dict):
                raise ValueError(f"{path}: a policy file maps rule names to check strings")
            overrides = {str(k): str(v) for k, v in data.items()}
        with self._lock:
            self.overrides = overrides
            self._file_mtime = mtime
            names = set(self.defaults) | set(overrides)
            self.rules = {n: _parser.parse_rule(overrides.get(n, self.defaults[n].check_str
                                                                if n in self.defaults else "!"))
                          for n in names}

    def enforce(self, ctx: Any, name: str, target: dict[str, Any], fatal: bool = True) -> bool:
        if getattr(ctx, "is_internal", False):
            return True
        target = flatten_target(target)
        self._reload_if_changed()
        rule = self.rules.get(name)
        if rule is None:
            raise KeyError(f"policy rule {name!r} is not registered")
        default = self.defaults.get(name)
        allowed = True
        if default is not None and default.scope_types and name not in self.overrides:
            scope = ("system" if ctx.system_scope else "domain" if ctx.domain_id
                     else "project" if ctx.project_id else None)
            if scope not in default.scope_types:
                allowed = False
        if allowed:
            allowed = bool(_check_cached(rule, target, ctx.creds(), self, name))
        if not allowed and fatal:
            raise errors.PolicyNotAuthorized(action=name)
        return allowed


def flatten_target(target: dict[str, Any]) -> dict[str, Any]:
    """``target`` plus a dotted key for every nested value ({"target": {"project": {"id": x}}}
    also gives "target.project.id": x), as check strings like %(target.project.id)s expect."""
    out = dict(target)

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}", v)
        else:
            out.setdefault(prefix, value)
    for key, value in target.items():
        if isinstance(value, dict):
            walk(key, value)
    return out


_engine = _Engine()
register = _engine.register
load_file = _engine.load_file


def enforce(ctx: Any, name: str, target: dict[str, Any], fatal: bool = True) -> bool:
    return _engine.enforce(ctx, name, target, fatal)


def defaults() -> dict[str, Rule]:
    return dict(_engine.defaults)


# Check strings shared by every service (upstream's "base" personas).
ADMIN = "role:admin"
SYSTEM_ADMIN = "role:admin and system_scope:all"
SYSTEM_READER = "role:reader and system_scope:all"
PROJECT_ADMIN = "role:admin and project_id:%(project_id)s"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
