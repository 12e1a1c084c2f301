"""Settings precedence: defaults < TOML file < ONESTACK_* environment < flags."""
from __future__ import annotations

import dataclasses

import pytest

from onestack import conf


@dataclasses.dataclass
class _Demo:
    workers: int = 2
    enabled: bool = False
    ratio: float = 1.5
    name: str = "x"
    tags: list[str] = dataclasses.field(default_factory=list)


conf.register_section("unittestdemo", _Demo)


def _write(tmp_path, text):
    (tmp_path / "onestack.toml").write_text(text)


def test_defaults_without_file_or_env(tmp_path):
    s = conf.load({"state_dir": str(tmp_path)}, env={})
    assert s.core.port == 5000 and s.core.host == "127.0.0.1"
    assert s.unittestdemo.workers == 2 and s.unittestdemo.enabled is False
    assert s.database_url == f"sqlite:///{tmp_path / 'onestack.db'}"
    assert s.public_url == "http://127.0.0.1:5000"
    assert s.state_dir == tmp_path


def test_file_beats_defaults_env_beats_file_flags_beat_env(tmp_path):
    _write(tmp_path, 'port = 6000\nregion = "R1"\n[unittestdemo]\nworkers = 5\nname = "file"\n')
    s = conf.load({"state_dir": str(tmp_path)}, env={})
    assert (s.core.port, s.core.region, s.unittestdemo.workers, s.unittestdemo.name) == \
        (6000, "R1", 5, "file")
    env = {"ONESTACK_PORT": "7000", "ONESTACK_UNITTESTDEMO__WORKERS": "9"}
    s = conf.load({"state_dir": str(tmp_path)}, env=env)
    assert (s.core.port, s.core.region, s.unittestdemo.workers) == (7000, "R1", 9)
    s = conf.load({"state_dir": str(tmp_path), "port": 8000, "unittestdemo.workers": 11}, env=env)
    assert (s.core.port, s.unittestdemo.workers, s.unittestdemo.name) == (8000, 11, "file")
    # a flag left unset (None) does not override anything
    s = conf.load({"state_dir": str(tmp_path), "port": None}, env=env)
    assert s.core.port == 7000


def test_state_dir_from_environment_finds_its_file(tmp_path):
    _write(tmp_path, "port = 6123\n")
    s = conf.load({}, env={"ONESTACK_STATE_DIR": str(tmp_path)})
    assert s.state_dir == tmp_path and s.core.port == 6123
    # the flag wins over the variable
    other = tmp_path / "other"
    other.mkdir()
    s = conf.load({"state_dir": str(other)}, env={"ONESTACK_STATE_DIR": str(tmp_path)})
    assert s.state_dir == other and s.core.port == 5000


def test_explicit_config_file(tmp_path):
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text("port = 6500\n")
    assert conf.load({"state_dir": str(tmp_path)}, config_file=str(cfg), env={}).core.port == 6500
    with pytest.raises(ValueError, match="does not exist"):
        conf.load({"state_dir": str(tmp_path)}, config_file=str(tmp_path / "nope.toml"), env={})


@pytest.mark.parametrize("raw,expected", [
    ("1", True), ("true", True), ("YES", True), ("on", True),
    ("0", False), ("false", False), ("no", False), ("off", False), ("", False)])
def test_booleans_from_environment(tmp_path, raw, expected):
    s = conf.load({"state_dir": str(tmp_path)}, env={"ONESTACK_UNITTESTDEMO__ENABLED": raw})
    assert s.unittestdemo.enabled is expected


def test_types_are_coerced(tmp_path):
    env = {"ONESTACK_UNITTESTDEMO__RATIO": "2.25", "ONESTACK_UNITTESTDEMO__TAGS": "a, b,,c",
           "ONESTACK_TASK_WORKERS": "7"}
    s = conf.load({"state_dir": str(tmp_path)}, env=env)
    assert s.unittestdemo.ratio == 2.25
    assert s.unittestdemo.tags == ["a", "b", "c"]
    assert s.core.task_workers == 7


@pytest.mark.parametrize("env,message", [
    ({"ONESTACK_PORT": "eighty"}, r"\[core\] port: expected an integer, got 'eighty'"),
    ({"ONESTACK_UNITTESTDEMO__ENABLED": "maybe"}, r"\[unittestdemo\] enabled: expected a boolean"),
    ({"ONESTACK_UNITTESTDEMO__RATIO": "lots"}, r"\[unittestdemo\] ratio: expected a number"),
])
def test_bad_values_are_clear_errors(tmp_path, env, message):
    with pytest.raises(ValueError, match=message):
        conf.load({"state_dir": str(tmp_path)}, env=env)


def test_bad_value_in_file_names_section_and_key(tmp_path):
    _write(tmp_path, '[unittestdemo]\nworkers = "many"\n')
    with pytest.raises(ValueError, match=r"\[unittestdemo\] workers: expected an integer"):
        conf.load({"state_dir": str(tmp_path)}, env={})


def test_unknown_section_or_key_in_file_is_an_error(tmp_path):
    _write(tmp_path, "[nosuchsection]\nx = 1\n")
    with pytest.raises(ValueError, match=r"unknown config section \[nosuchsection\]"):
        conf.load({"state_dir": str(tmp_path)}, env={})
    _write(tmp_path, "[unittestdemo]\nworkerz = 1\n")
    with pytest.raises(ValueError, match="unknown setting 'workerz' in \\[unittestdemo\\]"):
        conf.load({"state_dir": str(tmp_path)}, env={})
    _write(tmp_path, "prot = 1\n")
    with pytest.raises(ValueError, match="unknown setting 'prot' in \\[core\\]"):
        conf.load({"state_dir": str(tmp_path)}, env={})


def test_malformed_toml_is_a_clear_error(tmp_path):
    _write(tmp_path, "port = = 1\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        conf.load({"state_dir": str(tmp_path)}, env={})


def test_unrelated_environment_variables_are_ignored(tmp_path):
    env = {"ONESTACK_ADMIN_PASSWORD": "x", "ONESTACK_NOSUCH__THING": "y", "ONESTACK_FOO": "z",
           "PATH": "/bin"}
    assert conf.load({"state_dir": str(tmp_path)}, env=env).core.port == 5000


def test_register_section_twice_with_another_class_fails():
    conf.register_section("unittestdemo", _Demo)  # same class: fine

    @dataclasses.dataclass
    class Other:
        a: int = 1
    with pytest.raises(ValueError, match="registered twice"):
        conf.register_section("unittestdemo", Other)


def test_public_url_and_database_url_overrides(tmp_path):
    env = {"ONESTACK_PUBLIC_URL": "https://cloud.example/", "ONESTACK_DATABASE_URL": "postgresql+psycopg://u@h/db"}
    s = conf.load({"state_dir": str(tmp_path)}, env=env)
    assert s.public_url == "https://cloud.example"
    assert s.database_url == "postgresql+psycopg://u@h/db"
    assert s.as_dict()["core"]["public_url"] == "https://cloud.example/"
