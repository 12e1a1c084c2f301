"""Structured logging that never carries secrets."""
from __future__ import annotations

import json
import logging
import re
import sys
import time

_SECRET_KEYS = re.compile(
    r'("?(?:password|original_password|secret|token|auth_token|x-auth-token|x-subject-token|'
    r'temp_url_sig|signature|private_key|access_key_secret|blob|passcode|adminPass)"?\s*[:=]\s*)'
    r'("[^"]*"|[^\s,&}]+)', re.IGNORECASE)


def redact(text: str) -> str:
    return _SECRET_KEYS.sub(lambda m: m.group(1) + '"***"', text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
               "level": record.levelname, "logger": record.name,
               "msg": redact(record.getMessage())}
        for key in ("request_id", "method", "path", "status", "ms", "user_id", "project_id"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out)


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
