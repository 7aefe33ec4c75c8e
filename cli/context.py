"""The CLI's wiring: the settings read once per command, and the services built from them.

The one module of ``cli/`` that builds engines and sessions; commands get a
:class:`ServiceContext` from :func:`services_context` and open transactions with its
``session()``. A wrong setting stops the command with ``invalid_config`` (exit 6).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from core.settings import Settings, load_settings

if TYPE_CHECKING:
    from services.context import ServiceContext


@lru_cache
def settings() -> Settings:
    """The settings of this command (read and validated once)."""
    return load_settings()


@lru_cache
def services_context() -> ServiceContext:
    """The services of this command: engine, blob store and subject-index salt from the settings.

    Imported here, not at the top: ``cards extract`` needs the settings but no storage code.
    """
    from services.context import ServiceContext

    return ServiceContext.from_settings(settings())
