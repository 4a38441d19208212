"""The ledger's writer for calls the portal relays or sends itself, off the request path.

The gateway (every request it relays) and the playground and test sets (every
call they send) record a finished call the same way: one JSON line appended to
this process's spool file (one ``write`` to the operating system, which keeps it
if the process is killed), so nothing touches the database while a client
waits. A flusher thread turns the spool into ledger rows every
``GATEWAY_FLUSH_INTERVAL`` seconds, in batches, through the *sink* named by each
line's ``"sink"`` (``"gateway"`` when absent): a function registered with
:func:`register_sink` that writes a batch idempotently (retried flushes and the
spool of a killed process count nothing twice).

A file is taken only under an exclusive lock, so two flushers never write the
same file at once, a writer's own open file is never taken, and a file left by
a process that died is picked up by the next flusher on the machine. A file
holding lines of a sink this process does not know (a Celery worker meeting a
gateway process's orphan) is left for a process that does.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

DEFAULT_SINK = "gateway"

Entry = dict[str, Any]


@dataclass(frozen=True)
class Sink:
    write: Callable[[list[Entry]], None]
    # Called after every flush (``final`` on a clean stop): per-process state
    # a sink keeps in memory, such as the gateway's folded refusals.
    after_flush: Callable[..., None] | None = None


_sinks: dict[str, Sink] = {}


def register_sink(
    name: str,
    write: Callable[[list[Entry]], None],
    *,
    after_flush: Callable[..., None] | None = None,
) -> None:
    """Let ``write`` take the spooled lines whose ``"sink"`` is ``name``."""
    _sinks[name] = Sink(write, after_flush)


def spool_dir() -> Path:
    path = Path(settings.GATEWAY_SPOOL_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


class Spool:
    """This process's append-only file of finished calls."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.name = f"{self.pid}-{uuid.uuid4().hex[:8]}"
        self.sequence = 0
        self.fd: int | None = None
        self.written = 0

    def _open(self) -> int:
        if self.fd is None:
            path = spool_dir() / f"{self.name}.jsonl"
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            # Held while this process lives: a file nobody holds is an orphan,
            # whatever process ids the machine hands out later.
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return self.fd

    def append(self, record: Entry) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self.lock:
            os.write(self._open(), line)
            self.written += 1

    def rotate(self) -> Path | None:
        """Close the current file and hand it to the flusher (None: nothing new)."""
        with self.lock:
            if self.fd is None or not self.written:
                return None
            self.sequence += 1
            current = spool_dir() / f"{self.name}.jsonl"
            ready = spool_dir() / f"{self.name}.{self.sequence}.ready"
            current.rename(ready)  # still locked: nobody takes it half written
            os.close(self.fd)
            self.fd = None
            self.written = 0
            return ready

    def close(self) -> None:
        with self.lock:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None


_spool: Spool | None = None
_spool_lock = threading.Lock()
_flush_lock = threading.Lock()
_flusher: threading.Thread | None = None


def get_spool() -> Spool:
    """This process's spool; the first call starts its flusher thread."""
    global _spool, _flusher
    if _spool is None or _spool.pid != os.getpid():
        with _spool_lock:
            if _spool is None or _spool.pid != os.getpid():
                _spool = Spool()
                _flusher = threading.Thread(
                    target=_flush_forever, name="ledger-metering", daemon=True
                )
                _flusher.start()
                atexit.register(flush_at_exit)
    return _spool


def reset() -> None:
    """Forget this process's spool (tests that point ``GATEWAY_SPOOL_DIR`` elsewhere)."""
    global _spool
    with _spool_lock:
        if _spool is not None and _spool.pid == os.getpid():
            _spool.close()
        _spool = None


def record(entry: Entry, *, sink: str = DEFAULT_SINK) -> None:
    """Keep one finished call for the ledger: one append, no database."""
    if sink != DEFAULT_SINK:
        entry = {**entry, "sink": sink}
    get_spool().append(entry)


def _flush_forever() -> None:
    while True:
        time.sleep(float(settings.GATEWAY_FLUSH_INTERVAL))
        try:
            flush_pending()
        except Exception:  # the spool stays; the next round retries
            logger.exception("Ledger metering flush failed; will retry")
        finally:
            connections.close_all()


def flush_pending(*, final: bool = False) -> int:
    """Flush this process's spool and any file no live process holds; return the count."""
    with _flush_lock:
        if _spool is not None and _spool.pid == os.getpid():
            _spool.rotate()
        count = 0
        folder = spool_dir()
        for path in sorted(folder.glob("*.ready")) + sorted(folder.glob("*.jsonl")):
            count += _flush_file(path)
    for sink in list(_sinks.values()):
        if sink.after_flush is not None:
            sink.after_flush(final=final)
    return count


def _flush_file(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return 0  # another flusher finished it
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # its writer is alive, or another flusher has it
        if not path.exists():
            return 0
        entries = read_spool(path)
        by_sink: dict[str, list[Entry]] = defaultdict(list)
        for entry in entries:
            by_sink[entry.get("sink", DEFAULT_SINK)].append(entry)
        if set(by_sink) - set(_sinks):
            return 0  # a process that knows every sink in it takes it
        for name, batch in by_sink.items():
            _sinks[name].write(batch)
        path.unlink(missing_ok=True)
        return len(entries)
    finally:
        os.close(fd)


def read_spool(path: Path) -> list[Entry]:
    entries = []
    for line in path.read_bytes().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a kill: that call was in flight
    return entries


def write_now(entries: Iterable[Entry]) -> None:
    """Write entries at once through their sinks (tests, and callers that must)."""
    by_sink: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_sink[entry.get("sink", DEFAULT_SINK)].append(entry)
    for name, batch in by_sink.items():
        _sinks[name].write(batch)


def flush_at_exit() -> None:
    """On a clean stop: the last spool lines (and what sinks keep in memory)."""
    try:
        flush_pending(final=True)
    except Exception:
        logger.exception("Ledger metering: the final flush failed; the spool stays")
