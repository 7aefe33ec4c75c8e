"""Typed results that flow out of the pipeline, and their JSON shape (the CLI contract)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FIELD_NAMES = (
    "names",
    "job_titles",
    "departments",
    "companies",
    "emails",
    "websites",
    "phones",
    "addresses",
    "social",
)


@dataclass
class FieldValue:
    """One extracted value with the evidence behind it."""

    value: str
    raw: str
    confidence: float
    bbox: list[int]
    method: str
    type: str | None = None  # phones: work / mobile / fax / other; social: the network
    extension: str | None = None  # phones only
    script: str | None = None  # set for values in another script than Latin (ISO 15924: Jpan, Hani...)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: v for k, v in data.items() if v is not None or k in ("value", "raw")}


@dataclass
class Extraction:
    """Everything the pipeline learnt from one image, or why it failed."""

    source: str
    sha256: str | None = None
    fields: dict[str, list[FieldValue]] = field(default_factory=dict)
    text: str = ""
    engine: dict[str, Any] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    ocr_timings_ms: dict[str, float] = field(default_factory=dict)  # the "ocr" stage by engine and step
    region: str | None = None
    image: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "sha256": self.sha256,
            "fields": {name: [v.to_dict() for v in values] for name, values in self.fields.items()},
            "text": self.text,
            "engine": self.engine,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "ocr_timings_ms": {k: round(v, 1) for k, v in self.ocr_timings_ms.items()},
            "region": self.region,
            "image": self.image,
            "error": self.error,
        }
