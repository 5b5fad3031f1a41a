"""JSON-lines logging with an allow-list of fields.

Only the fields in `ALLOWED_FIELDS` ever reach a log line: ids, statuses, timings, counts
and rule ids. Request bodies, tokens, names and clinical values have no field to travel
in, and our own log calls use fixed event names as the message. Gunicorn's own loggers
go through the same formatter, so the whole stream is JSON lines on stderr.
"""

from __future__ import annotations

import logging
import logging.config
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson

ALLOWED_FIELDS = (
    "request_id",
    "service_id",
    "hook",
    "hook_instance",
    "method",
    "endpoint",
    "status",
    "duration_ms",
    "card_count",
    "rule_ids",
    "rule_id",
    "error_type",
    "frames",
    "auth_reason",  # why a client JWT was refused: a fixed code, never token contents
    "client",  # the trusted issuer (iss) of an accepted client JWT
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
            "pid": record.process,  # which worker: operational, never patient data
        }
        for name in ALLOWED_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        return orjson.dumps(line, default=str).decode()


def stack_frames(tb: TracebackType | None) -> list[str]:
    """Where an exception came from, without its message (messages may quote data)."""
    return [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(tb)][-12:]


def logging_config(level: str) -> dict[str, Any]:
    """A dictConfig for the service and for gunicorn (`logconfig_dict`)."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        # gunicorn's default handler names, so its loggers write JSON too
        "handlers": {"console": dict(handler), "error_console": dict(handler)},
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": ["console"], "propagate": False},
            "werkzeug": {"level": "WARNING"},
            # migrations at start-up: their plugin chatter is not operational news
            "alembic": {"level": "WARNING"},
        },
    }


def configure_logging(level: str) -> None:
    logging.config.dictConfig(logging_config(level))
