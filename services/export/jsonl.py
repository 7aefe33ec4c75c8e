"""JSON lines: one contact per line with its provenance.

Every value with its OCR value and raw text, confidence, box, method and correction time;
the source image's SHA-256, the extraction engine, the current attestation and the uses.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from core.times import iso_utc
from services.export.contacts import Contact


def contact_json(contact: Contact) -> dict[str, Any]:
    """The contact with provenance: where each value came from, and under which attestation and uses."""
    card = contact.card
    if card is None:
        raise ValueError("the JSON lines export writes stored cards (with their provenance)")
    fields: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in card.values:
        fields[v.field].append(
            {
                "value": v.value,
                "type": v.type,
                "extension": v.extension,
                "ocr_value": v.ocr_value,
                "raw": v.raw,
                "confidence": v.confidence,
                "bbox": v.bbox,
                "method": v.method,
                "corrected": v.corrected_at is not None,
                "corrected_at": iso_utc(v.corrected_at),
            }
        )
    record, source, run, attestation = card.record, card.source, card.run, card.attestation
    return {
        "id": record.id,
        "uid": contact.uid,
        "created_at": iso_utc(record.created_at),
        "updated_at": iso_utc(record.updated_at),
        "region": record.region,
        "notes": record.notes,
        "fields": dict(fields),
        "source": {
            "sha256": source.sha256,
            "channel": str(source.channel),
            "received_at": iso_utc(source.received_at),
            "byte_size": source.byte_size,
        }
        if source
        else None,
        "extraction": {
            "engine": run.engine,
            "engine_version": run.engine_version,
            "pipeline_version": run.pipeline_version,
            "created_at": iso_utc(run.created_at),
        }
        if run
        else None,
        "attestation": {
            "basis": str(attestation.basis),
            "basis_text": attestation.basis_text,
            "text_version": attestation.text_version,
            "attested_at": iso_utc(attestation.attested_at),
            "channel": str(attestation.channel),
        }
        if attestation
        else None,
        "uses": [str(use) for use in card.uses],
    }
