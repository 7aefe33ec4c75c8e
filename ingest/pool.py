"""The one way to get OCR worker processes: a process pool that is safe to start from anywhere.

Used by ``cards extract --jobs``, the folder import and the HTTP API (uploads and jobs).
OCR is CPU work in tesseract and OpenCV: it runs in worker processes, one OpenMP thread
each (``OMP_THREAD_LIMIT=1``, about 4x faster than letting threads fight across processes).

* **forkserver**: forking a process that already runs threads (uvicorn, the job worker, a
  database pool) is unsafe; the fork server is a clean, single-threaded process that has
  imported the pipeline once, so each worker starts quickly without inheriting locks.
* **Workers die with the pool's owner**: the fork server stays up while any worker lives
  (each worker holds its "alive" pipe), so a worker cannot wait for the fork server to go.
  Each worker instead watches the process that made the pool (a Linux pidfd, or a poll
  elsewhere) and kills itself when that process is gone; it also asks Linux for SIGKILL if
  the fork server dies. Once the workers are gone the fork server and multiprocessing's
  resource tracker see their pipes close and exit. So ``kill -9`` of the command or the
  server leaves no OCR process behind.
* **Server processes die with uvicorn's supervisor** (``cards serve --workers N``): each
  watches its parent the same way (:func:`die_with_supervisor`), stops gracefully when it
  is gone, and its pool follows it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from ingest.ocr import limit_threads

_PRELOAD = ["ingest.pipeline"]
_PR_SET_PDEATHSIG = 1


def default_workers() -> int:
    """One worker per core."""
    return os.cpu_count() or 1


def ocr_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """A pool of ``workers`` OCR processes (default: one per core); see the module docstring."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return ProcessPoolExecutor(
        max_workers=max(1, workers or default_workers()),
        mp_context=context,
        initializer=_init_worker,
        initargs=(os.getpid(),),
    )


_POLL_S = 0.5


def _init_worker(owner_pid: int) -> None:
    limit_threads()
    die_with_parent()
    watch_owner(owner_pid)


def watch_owner(owner_pid: int, *, signum: int = signal.SIGKILL, grace_s: float = 0.0) -> None:
    """Stop this process as soon as ``owner_pid`` is gone (a daemon thread waits for it).

    ``signum`` is sent to this process first (SIGKILL by default; SIGTERM lets a server finish
    its requests), then SIGKILL after ``grace_s`` seconds if it is still alive.
    """
    try:
        handle: int | None = os.pidfd_open(owner_pid)
    except ProcessLookupError:  # gone already
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd here: poll instead
        handle = None

    def wait_then_die() -> None:
        if handle is not None:
            select.select([handle], [], [])  # readable once the process has exited
        else:
            while _alive(owner_pid):
                time.sleep(_POLL_S)
        os.kill(os.getpid(), signum)
        if signum != signal.SIGKILL:
            time.sleep(grace_s)
            os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=wait_then_die, name="pool-owner-watch", daemon=True).start()


def die_with_supervisor(grace_s: float) -> bool:
    """In a process started by a ``multiprocessing`` parent (uvicorn's ``--workers``): stop when it dies.

    uvicorn's supervisor does not tell its workers when it is killed (``kill -9``), so they would
    go on serving, each with its OCR pool. Returns whether there was such a parent to watch.
    """
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return False
    watch_owner(parent.pid, signum=signal.SIGTERM, grace_s=grace_s)
    return True


def die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (elsewhere: nothing)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    except (OSError, AttributeError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
