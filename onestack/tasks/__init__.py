"""The durable engine for long operations (see engine.py)."""
from onestack.tasks.engine import ENGINE, Retry, TaskRun, TaskSpec, register, submit  # noqa: F401
