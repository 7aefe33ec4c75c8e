"""What every HTTP exchange goes through before a route sees it, as one pure-ASGI middleware.

* **Body caps by route**, before a byte is read: a declared ``Content-Length`` over the
  route's cap is answered 413 at once, and a body without one (chunked) is counted as it
  arrives and cut off at the cap, so a 150 MB body to the public opt-out is never read, let
  alone held (:func:`body_cap`). Uploads get the image cap plus the multipart overhead (the
  upload route then applies its own per-part limits); every other route the JSON cap.
* **The client's address**: ``X-Forwarded-For`` is believed only from the proxies named in
  ``CARDS_TRUSTED_PROXIES`` (none by default); the address is the right-most hop that is not
  one of them. Anyone else's header is ignored, so it cannot reset a per-client limit.
* **Headers**: ``X-Content-Type-Options: nosniff`` on every answer and ``Cache-Control:
  no-store`` on every answer of the API and the pages (they carry personal data, or say
  whether we hold it), unless a route set its own.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import BodyTooLargeError, UploadTooLargeError
from api.uploads import FORM_OVERHEAD
from core.errors import CardError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PUBLIC_FORM_MAX = 4 * 1024  # the public opt-out (JSON and the HTML form) and the unsubscribe link
PUBLIC_ROUTES = {("POST", "/v1/opt-out"), ("POST", "/opt-out"), ("POST", "/v1/invites/unsubscribe")}
UPLOAD_ROUTES = {("POST", "/v1/cards"), ("POST", "/app/upload/file")}
# The web app's no-JavaScript form posts every chosen image at once: up to this many.
WEB_FORM_IMAGES = 20
WEB_FORM_ROUTE = ("POST", "/app/upload")
NO_STORE_PREFIXES = ("/v1/", "/app", "/opt-out")


def body_cap(method: str, path: str, *, json_max: int, image_max: int) -> int:
    """The most bytes a request body to this route may have."""
    route = (method.upper(), path.rstrip("/") or "/")
    if route in UPLOAD_ROUTES:
        return image_max + FORM_OVERHEAD
    if route == WEB_FORM_ROUTE:
        return WEB_FORM_IMAGES * image_max + FORM_OVERHEAD
    if route in PUBLIC_ROUTES:
        return min(PUBLIC_FORM_MAX, json_max)
    return json_max


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str | None:
    """The client as far as we can trust it: the peer, or behind trusted proxies the first hop before them."""
    if peer is None or not trusted or not forwarded_for or not _in(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _valid(hop):
            return peer  # a forged or garbled chain: fall back to what we saw
        if not _in(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _in(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


@dataclass(frozen=True)
class Limits:
    """What the middleware applies, read per request (tests lower the image limit on a live app)."""

    json_max: int
    image_max: int
    trusted: Sequence[Network] = ()


class _TooLarge(Exception):
    """Raised by the counted ``receive`` once the body passes its cap."""


class HardeningMiddleware:
    """Body caps, the trusted client address and the privacy headers (see the module doc)."""

    def __init__(self, app: ASGIApp, *, limits: Callable[[], Limits]) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        limits = self.limits()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        peer = scope["client"][0] if scope.get("client") else None
        address = client_address(peer, headers.get("x-forwarded-for"), limits.trusted)
        if address is not None and address != peer:
            scope["client"] = (address, 0)
        path, method = scope.get("path", ""), scope.get("method", "GET")
        cap = body_cap(method, path, json_max=limits.json_max, image_max=limits.image_max)
        too_large = _error(method, path, cap, limits.image_max)
        no_store = path.startswith(NO_STORE_PREFIXES)

        declared = headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > cap:
            await _problem(send, too_large, no_store)
            return

        seen = 0
        overflowed = replaced = started = False

        async def counted() -> Message:
            nonlocal seen, overflowed
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    overflowed = True
                    raise _TooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal replaced, started
            if overflowed:  # whatever the app made of the cut-off body (a 400, say), the answer is 413
                if not replaced and not started:
                    replaced = True
                    await _problem(send, too_large, no_store)
                return
            if message["type"] == "http.response.start":
                started = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = (
                    [(b"x-content-type-options", b"nosniff")]
                    if b"x-content-type-options" not in names
                    else []
                )
                if no_store and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        with contextlib.suppress(_TooLarge):  # the 413 is sent below
            await self.app(scope, counted, send_with_headers)
        if overflowed and not replaced and not started:
            await _problem(send, too_large, no_store)


def _error(method: str, path: str, cap: int, image_max: int) -> CardError:
    if (method.upper(), path.rstrip("/")) in UPLOAD_ROUTES | {WEB_FORM_ROUTE}:
        return UploadTooLargeError(f"The upload exceeds {cap:,} bytes (image limit {image_max:,}).")
    return BodyTooLargeError(f"The request body exceeds {cap:,} bytes, the limit of this route.")


async def _problem(send: Send, error: CardError, no_store: bool) -> None:
    """The 413 problem, sent without reading the body (the server closes the connection after it)."""
    body = json.dumps(
        {
            "type": f"/problems/{error.code}",
            "title": error.code.replace("_", " "),
            "status": error.http_status,
            "detail": error.full_message,
            "code": error.code,
        }
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if no_store:
        headers.append((b"cache-control", b"no-store"))
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
