"""What the browser tests share: the server under test, where screenshots go, the phone's size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PHONE = {"width": 360, "height": 740}


@dataclass
class WebServer:
    base_url: str
    db_url: str
    keys: dict[str, str]  # principal name -> API key
    log: Path

    def url(self, path: str) -> str:
        return self.base_url + path
