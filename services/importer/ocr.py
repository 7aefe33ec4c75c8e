"""OCR of an import's cards in worker processes, taken as they finish."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from core.errors import error_from_exception
from ingest.errors import OcrEngineError
from ingest.pipeline import Options, extract_file
from ingest.pool import ocr_pool
from ingest.schema import Extraction


def ocr_results(
    paths: list[Path], options: Options, jobs: int, tick_s: float
) -> Iterator[tuple[int, Extraction] | None]:
    """Yield ``(index, extraction)`` as cards finish (any order), or None every ``tick_s`` idle seconds.

    Not ``ingest.pipeline.extract_many``: the writer must be woken while OCR is busy (to
    commit a batch on time), results are taken as they finish rather than in input order,
    at most ``2 * jobs`` cards are in flight, and workers must die with this process. A
    worker that crashes (a decoder bug) fails only the cards it had in flight; the pool is
    started again for the rest.
    """
    if jobs <= 1:
        for index, path in enumerate(paths):
            yield index, extract_file(path, options)
        return
    next_index = 0
    while next_index < len(paths):
        pool = ocr_pool(jobs)
        in_flight: dict[Future[Extraction], int] = {}
        try:
            broken = False
            while not broken and (in_flight or next_index < len(paths)):
                while next_index < len(paths) and len(in_flight) < 2 * jobs:
                    try:
                        future = pool.submit(extract_file, paths[next_index], options)
                    except BrokenProcessPool:  # a worker died since the last look
                        broken = True
                        break
                    in_flight[future] = next_index
                    next_index += 1
                if broken:
                    break
                done, _ = wait(in_flight, timeout=tick_s, return_when=FIRST_COMPLETED)
                if not done:
                    yield None
                    continue
                for future in sorted(done, key=lambda f: in_flight[f]):
                    index = in_flight.pop(future)
                    try:
                        extraction = future.result()
                    except BrokenProcessPool:
                        broken = True
                        extraction = _worker_died(paths[index])
                    except Exception as exc:  # e.g. a result that cannot be pickled: this card only
                        error = error_from_exception(exc).to_dict()
                        extraction = Extraction(source=str(paths[index]), error=error)
                    yield index, extraction
            if broken:
                for index in sorted(in_flight.values()):
                    yield index, _worker_died(paths[index])
                in_flight.clear()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _worker_died(path: Path) -> Extraction:
    error = OcrEngineError("The OCR worker process died while this card was in it.")
    return Extraction(source=str(path), error=error.to_dict())
