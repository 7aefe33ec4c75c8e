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


def watch_owner(owner_pid: int) -> None:
    """Kill this process as soon as ``owner_pid`` is gone (a daemon thread waits for it)."""
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
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=wait_then_die, name="pool-owner-watch", daemon=True).start()


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
