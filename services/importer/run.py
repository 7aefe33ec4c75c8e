"""What both import modes (in process, ``--queue``) do before their first card, written once.

The checks that refuse a run before it starts (an uploader that may upload, a folder, valid
attestations on the command line and in every manifest row), then the folder walk that fills
the report and numbers every file, so both modes report alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import BadArgumentsError
from models.enums import Basis
from models.tables import Principal
from services.errors import NotFoundError
from services.importer.files import Candidate, walk_images
from services.importer.manifest import ManifestRow, read_manifest
from services.importer.report import CardResult, ImportReport, Progress, ProgressCallback, file_label
from services.principals import check_can_upload
from services.records import AttestationInput


def attestation_for(row: ManifestRow | None, default: AttestationInput) -> AttestationInput:
    """A manifest row's own basis (with its own text), else the command line's."""
    if row is None or (row.basis is None and row.basis_text is None):
        return default
    basis = row.basis or default.basis
    # a basis of its own comes with its own text; the command line's text belongs to its basis
    basis_text = row.basis_text if row.basis is not None else (row.basis_text or default.basis_text)
    return AttestationInput(
        basis=basis,
        text_version=default.text_version,
        basis_text=basis_text,
        details={**default.details, "manifest_line": row.line},
    )


def checked_inputs(
    root: Path,
    uploader: Principal,
    basis: Basis,
    basis_text: str | None,
    attestation_version: str,
    manifest: Path | None,
) -> tuple[int, AttestationInput, dict[str, ManifestRow]]:
    """The uploader's id, the default attestation and the manifest rows, all checked up front."""
    if uploader.id is None:
        raise NotFoundError("The uploader has no id: store the principal first.")
    check_can_upload(uploader)
    if not root.is_dir():
        raise BadArgumentsError(f"{root} is not a folder.", hint="Give the folder of card images to import.")
    default = AttestationInput(
        basis=basis, text_version=attestation_version, basis_text=basis_text, details={"via": "cards import"}
    )
    default.validate()
    rows = read_manifest(manifest) if manifest is not None else {}
    for row in rows.values():
        attestation_for(row, default).validate()
    return uploader.id, default, rows


@dataclass
class Tally:
    """The report of one run, with each file's number and a progress line per finished card."""

    report: ImportReport
    progress: ProgressCallback | None = None
    place: dict[str, int] = field(default_factory=dict)
    done: int = 0

    def finish(self, result: CardResult) -> None:
        self.report.results.append(result)
        self.done += 1
        if self.progress is not None:
            label = file_label(self.place.get(result.path, 0), result.sha256)
            self.progress(Progress(total=self.report.found, done=self.done, result=result, label=label))

    def walk(self, root: Path, rows: dict[str, ManifestRow]) -> list[Candidate]:
        """Find the folder's images, number every file, finish those left out; the rest to read."""
        candidates, left_out = walk_images(root)
        self.report.found = len(candidates) + len(left_out)
        every_file = sorted([c.rel for c in candidates] + [r.path for r in left_out])
        self.place.update({rel: n for n, rel in enumerate(every_file, start=1)})
        known = {c.rel for c in candidates}
        self.report.manifest_unmatched = [
            {"line": r.line, "path": r.path} for r in rows.values() if r.path not in known
        ]
        if self.progress is not None:
            self.progress(Progress(total=self.report.found, done=0, result=None))
        for result in left_out:
            self.finish(result)
        return candidates
