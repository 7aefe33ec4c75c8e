"""Errors only the web app meets.

Part of the project's one vocabulary (base and exit statuses in :mod:`core.errors`).
"""

from __future__ import annotations

from core.errors import CardError


class CsrfError(CardError):
    """The form was sent without this session's CSRF token."""

    code = "csrf_failed"
    http_status = 403
    hint = "Reload the page and send the form again (forms expire when you sign out or sign in again)."
