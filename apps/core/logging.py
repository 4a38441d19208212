"""Console logging: an ordinary refusal is one line, not a traceback."""

from __future__ import annotations

import logging


class RefusalsWithoutTraceback(logging.Filter):
    """Drop the traceback Django attaches to a 403 or 404: the refusal is expected
    behaviour (the line still says which path was refused), not a fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) in (403, 404):
            record.exc_info = None
            record.exc_text = None
        return True
