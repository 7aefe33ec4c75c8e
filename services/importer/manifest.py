"""The optional manifest: per-file attestation, uses and notes, validated whole before anything runs."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.errors import BadArgumentsError, CardError
from models.enums import Basis, Use
from services.errors import InvalidAttestationError
from services.records import parse_uses

NO_USES = frozenset({"", "none", "-"})

MANIFEST_COLUMNS = ("path", "basis", "basis_text", "uses", "notes")


@dataclass(frozen=True)
class ManifestRow:
    """Per-file overrides; None means "use the command-line value"."""

    line: int
    path: str
    basis: Basis | None = None
    basis_text: str | None = None
    uses: frozenset[Use] | None = None
    notes: str | None = None


def _manifest_key(raw: str) -> str:
    """Normalise a manifest path the way walked files are named: relative, "/" separators, no "./"."""
    text = raw.strip().replace("\\", "/")
    path = PurePosixPath(text)
    if not text or path.is_absolute() or ".." in path.parts:
        raise BadArgumentsError(f"Manifest path {raw!r} must be relative to the imported folder.")
    return path.as_posix()


def read_manifest(path: Path) -> dict[str, ManifestRow]:
    """Read and validate the whole manifest before anything is imported: a typo must not import cards
    under the wrong basis or uses."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadArgumentsError(f"Cannot read the manifest {path}: {exc}.") from exc
    reader = csv.DictReader(text.splitlines())
    columns = [(c or "").strip().lower() for c in reader.fieldnames or []]
    unknown = sorted(set(columns) - set(MANIFEST_COLUMNS))
    if "path" not in columns or unknown:
        raise BadArgumentsError(
            f"Manifest {path}: columns must be {', '.join(MANIFEST_COLUMNS)} (path required)"
            + (f"; unknown: {', '.join(unknown)}." if unknown else ".")
        )
    rows: dict[str, ManifestRow] = {}
    for number, raw in enumerate(reader, start=2):
        cells = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(cells.values()):
            continue
        where = f"manifest line {number}"
        key = _manifest_key(cells.get("path", ""))
        if key in rows:
            raise BadArgumentsError(f"{where}: {key!r} is already on line {rows[key].line}.")
        basis: Basis | None = None
        if cells.get("basis"):
            try:
                basis = Basis(cells["basis"])
            except ValueError as exc:
                raise InvalidAttestationError(f"{where}: unknown basis {cells['basis']!r}.") from exc
        uses: frozenset[Use] | None = None
        if "uses" in cells and cells["uses"] != "":
            text_uses = "" if cells["uses"].lower() in NO_USES else cells["uses"]
            try:
                uses = frozenset(parse_uses(text_uses))
            except CardError as exc:
                raise InvalidAttestationError(f"{where}: {exc.message}") from exc
        rows[key] = ManifestRow(
            line=number,
            path=key,
            basis=basis,
            basis_text=cells.get("basis_text") or None,
            uses=uses,
            notes=cells.get("notes") or None,
        )
    return rows
