"""How ``coops server`` logs: uvicorn's text lines, or one JSON object per line
(``--log-format json``) for a log collector, the server's own messages and the access
log alike."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from containerops.timestamps import rfc3339

FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}`` (and ``exception``), plus the request's
    fields on an access line."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": rfc3339(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            document.update(client=client, method=method, path=path, http=version, status=status)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def log_config(fmt: str, level: str) -> dict[str, Any]:
    """uvicorn's logging configuration in ``fmt``, with coops' own loggers at ``level``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}: {' or '.join(FORMATS)}")
    config = copy.deepcopy(LOGGING_CONFIG)
    if fmt == "json":  # one stream of JSON lines (uvicorn writes its access log to stdout)
        config["formatters"] = {name: {"()": JsonFormatter} for name in ("default", "access")}
        config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config["loggers"]["containerops"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config
