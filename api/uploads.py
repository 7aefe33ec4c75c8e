"""Reading an upload's body over HTTP: the multipart ``image`` and ``metadata`` parts, within the limits.

A declared ``Content-Length`` over the limit is refused before a byte is read, and the body
stream itself is counted, so a chunked upload stops at the limit instead of being spooled
to disk whole. Everything after the body is read — OCR, storing, jobs, idempotency — is in
the services layer (:mod:`services.uploads`, :mod:`services.jobs`, :mod:`services.idempotency`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive

from api.errors import BodyTooLargeError, UnsupportedMediaTypeError, UploadTooLargeError
from core.errors import BadArgumentsError
from services.schemas import CardMetadata

FORM_OVERHEAD = 64 * 1024  # multipart boundaries, part headers and the metadata part
METADATA_MAX = 16 * 1024
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """A card upload as received: the image bytes and the validated metadata."""

    data: bytes
    filename: str
    metadata: CardMetadata
    sha256: str  # of ``data``; hashed in a thread when read (40 MiB take a while)

    def request_hash(self, mode: str) -> str:
        """What makes two requests "the same" for ``Idempotency-Key``: image, metadata and mode."""
        digest = hashlib.sha256()
        digest.update(mode.encode() + b"\0" + bytes.fromhex(self.sha256))
        digest.update(json.dumps(self.metadata.model_dump(mode="json"), sort_keys=True).encode())
        return digest.hexdigest()


def _capped(receive: Receive, limit: int) -> Receive:
    """``receive`` that refuses the body once more than ``limit`` bytes have arrived."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise UploadTooLargeError(f"The upload exceeds {limit:,} bytes.")
        return message

    return wrapped


def _missing(field: str) -> dict[str, Any]:
    return {"type": "missing", "loc": ("body", field), "msg": "Field required", "input": None}


async def read_upload(request: Request, cap: int) -> Upload:
    """The ``image`` and ``metadata`` parts, the image at most ``cap`` bytes; 413, 415 or 422 otherwise."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaTypeError(f"The body is {content_type or 'untyped'}, not multipart/form-data.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap + FORM_OVERHEAD:
        raise UploadTooLargeError(f"The upload is {int(declared):,} bytes; the image limit is {cap:,}.")
    counted = Request(request.scope, _capped(request.receive, cap + FORM_OVERHEAD))
    try:
        form = await counted.form(max_files=2, max_fields=4, max_part_size=METADATA_MAX)
    except StarletteHTTPException as exc:  # the multipart parser's refusals, in our vocabulary
        if "maximum size" in str(exc.detail):
            raise BodyTooLargeError(f"A form part is over {METADATA_MAX:,} bytes: {exc.detail}") from exc
        raise BadArgumentsError(
            f"The multipart body cannot be read: {exc.detail}",
            hint="Send multipart/form-data with an `image` file part and a `metadata` JSON part.",
        ) from exc
    try:
        image, metadata = form.get("image"), form.get("metadata")
        errors = []
        if not isinstance(image, UploadFile):
            errors.append(_missing("image"))
        if metadata is None:
            errors.append(_missing("metadata"))
        if errors:
            raise RequestValidationError(errors)
        assert isinstance(image, UploadFile) and metadata is not None
        data = await _read_capped(image, cap)
        if isinstance(metadata, UploadFile):  # sent as a file part (with a filename)
            raw = _utf8((await metadata.read(METADATA_MAX + 1))[:METADATA_MAX])
        else:
            raw = metadata
        sha256 = await run_in_threadpool(lambda: hashlib.sha256(data).hexdigest())
        return Upload(data, image.filename or "upload", parse_metadata(raw), sha256)
    finally:
        await form.close()


async def _read_capped(upload: UploadFile, cap: int) -> bytes:
    """The file's bytes, read in chunks and stopped at ``cap + 1``: a 413 never holds more."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(min(CHUNK, cap + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise UploadTooLargeError(f"The image is over the limit of {cap:,} bytes.")
    return b"".join(chunks)


def _utf8(data: bytes) -> str:
    """The metadata part's text; a 422 when it is not UTF-8 (never guessed at, never "repaired")."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestValidationError([_invalid(f"not UTF-8: {exc.reason} at byte {exc.start}")]) from exc


def _invalid(message: str) -> dict[str, Any]:
    return {"type": "json_invalid", "loc": ("body", "metadata"), "msg": message, "input": None}


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ValueError(f"duplicate keys: {', '.join(twice)}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_json(raw: str) -> None:
    """Refuse what JSON parsers disagree on: duplicate keys (which one wins?), NaN/Infinity, deep nesting."""
    try:
        json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError as exc:
        raise RequestValidationError([_invalid("nested too deeply")]) from exc
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            return  # reported, with its position, by the schema's own parser below
        raise RequestValidationError([_invalid(str(exc))]) from exc


def parse_metadata(raw: str) -> CardMetadata:
    """The metadata part as :class:`CardMetadata`; a 422 problem listing what is wrong otherwise."""
    _check_json(raw or "{}")
    try:
        return CardMetadata.model_validate_json(raw or "{}")
    except ValidationError as exc:
        errors = [
            {**e, "loc": ("body", "metadata", *e.get("loc", ()))}
            for e in exc.errors(include_url=False, include_context=False)
        ]
        raise RequestValidationError(errors) from exc
