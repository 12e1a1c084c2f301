"""The policy engine: oslo.policy check strings, scope_types, policy.yaml override + reload."""
from __future__ import annotations

import os

import pytest

from onestack import errors, policy
from onestack.context import RequestContext
from onestack.policy import Rule

RULES = [
    Rule("admin_required", "role:admin"),
    Rule("demo:list", "role:reader and project_id:%(project_id)s", scope_types=("project",)),
    Rule("demo:create", "rule:admin_required or (role:member and project_id:%(project_id)s)",
         scope_types=("project", "system")),
    Rule("demo:system", "role:reader and system_scope:all", scope_types=("system",)),
    Rule("demo:domain", "role:admin and domain_id:%(target.domain.id)s", scope_types=("domain",)),
    Rule("demo:owner", "user_id:%(user_id)s or not role:reader"),
    Rule("demo:open", "@"),
    Rule("demo:closed", "!"),
]


@pytest.fixture
def engine(tmp_path):
    e = policy._Engine()
    e.register(RULES)
    e.load_file(str(tmp_path / "policy.yaml"))
    e.reload_interval = 0   # look at the file on every decision (production: once a second)
    return e


def member(project="p1", roles=("member", "reader")):
    return RequestContext(user_id="u1", project_id=project, roles=list(roles))


def system_reader():
    return RequestContext(user_id="u2", system_scope="all", roles=["reader"])


def test_project_scoped_checks(engine):
    assert engine.enforce(member(), "demo:list", {"project_id": "p1"})
    with pytest.raises(errors.PolicyNotAuthorized, match="demo:list"):
        engine.enforce(member(), "demo:list", {"project_id": "p2"})
    assert engine.enforce(member(), "demo:list", {"project_id": "p2"}, fatal=False) is False


def test_rule_references_and_boolean_logic(engine):
    admin = RequestContext(user_id="a", project_id="p9", roles=["admin"])
    assert engine.enforce(admin, "demo:create", {"project_id": "p1"})
    assert engine.enforce(member(), "demo:create", {"project_id": "p1"})
    assert not engine.enforce(member(roles=["reader"]), "demo:create", {"project_id": "p1"}, fatal=False)
    assert engine.enforce(member(roles=["reader"]), "demo:owner", {"user_id": "u1"})
    assert not engine.enforce(member(roles=["reader"]), "demo:owner", {"user_id": "zz"}, fatal=False)
    assert engine.enforce(member(roles=["other"]), "demo:owner", {"user_id": "zz"})
    assert engine.enforce(member(), "demo:open", {})
    assert not engine.enforce(member(), "demo:closed", {}, fatal=False)


def test_roles_match_case_insensitively(engine):
    assert engine.enforce(member(roles=["Reader"]), "demo:list", {"project_id": "p1"})


def test_scope_types_refuse_tokens_of_another_scope(engine):
    # a system reader has the role but not the scope demo:list accepts
    sysadmin = RequestContext(user_id="a", system_scope="all", roles=["admin", "reader"])
    assert not engine.enforce(sysadmin, "demo:list", {"project_id": None}, fatal=False)
    assert engine.enforce(system_reader(), "demo:system", {})
    assert not engine.enforce(member(), "demo:system", {}, fatal=False)
    # unscoped tokens match no scope type
    unscoped = RequestContext(user_id="u", roles=[])
    assert engine.enforce(unscoped, "demo:open", {})  # no scope_types: any scope
    assert not engine.enforce(unscoped, "demo:system", {}, fatal=False)


def test_nested_targets_are_flattened(engine):
    dadmin = RequestContext(user_id="d", domain_id="d1", roles=["admin"])
    assert engine.enforce(dadmin, "demo:domain", {"target": {"domain": {"id": "d1"}}})
    assert not engine.enforce(dadmin, "demo:domain", {"target": {"domain": {"id": "d2"}}}, fatal=False)
    assert policy.flatten_target({"a": {"b": {"c": 1}}, "x": 2}) == \
        {"a": {"b": {"c": 1}}, "x": 2, "a.b.c": 1}


def test_internal_context_bypasses_policy(engine):
    assert engine.enforce(RequestContext.internal(), "demo:closed", {})


def test_unknown_rule_is_a_programming_error(engine):
    with pytest.raises(KeyError, match="not registered"):
        engine.enforce(member(), "demo:nope", {})


def test_registering_a_different_default_twice_fails(engine):
    engine.register([Rule("demo:open", "@")])  # identical: fine
    with pytest.raises(ValueError, match="registered twice"):
        engine.register([Rule("demo:open", "!")])


def _write_policy(path, text, bump=0):
    path.write_text(text)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


def test_policy_yaml_overrides_and_reloads(engine, tmp_path):
    path = tmp_path / "policy.yaml"
    assert not engine.enforce(member(), "demo:closed", {}, fatal=False)
    _write_policy(path, '"demo:closed": "role:member"\n"demo:list": "!"\n')
    assert engine.enforce(member(), "demo:closed", {})          # reloaded without a restart
    assert not engine.enforce(member(), "demo:list", {"project_id": "p1"}, fatal=False)
    _write_policy(path, '"demo:closed": "role:admin"\n', bump=5)
    assert not engine.enforce(member(), "demo:closed", {}, fatal=False)
    assert engine.enforce(member(), "demo:list", {"project_id": "p1"})  # back to its default
    path.unlink()
    assert not engine.enforce(member(), "demo:closed", {}, fatal=False)


def test_override_may_reference_operator_defined_aliases(engine, tmp_path):
    _write_policy(tmp_path / "policy.yaml",
                  '"my_readers": "role:auditor"\n"demo:closed": "rule:my_readers"\n')
    assert engine.enforce(member(roles=["auditor"]), "demo:closed", {})


def test_reload_is_throttled(engine, tmp_path):
    engine.reload_interval = 3600
    engine.enforce(member(), "demo:open", {})
    _write_policy(tmp_path / "policy.yaml", '"demo:closed": "role:member"\n')
    assert not engine.enforce(member(), "demo:closed", {}, fatal=False)  # not looked at yet
    engine.reload_interval = 0
    assert engine.enforce(member(), "demo:closed", {})


def test_policy_file_must_be_a_mapping(engine, tmp_path):
    _write_policy(tmp_path / "policy.yaml", "- just\n- a list\n")
    with pytest.raises(ValueError, match="maps rule names"):
        engine.load_file(str(tmp_path / "policy.yaml"))


def test_context_can_uses_the_global_engine():
    policy.register([Rule("unittest:core:can", "role:reader and project_id:%(project_id)s")])
    assert member().can("unittest:core:can", {"project_id": "p1"})
    assert member().can("unittest:core:can", {"project_id": "p2"}, fatal=False) is False
    assert "unittest:core:can" in policy.defaults()
