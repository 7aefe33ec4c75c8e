"""The one settings object: every environment variable, validated at start-up, documented once."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import InvalidConfigError
from core.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "ingest", "models", "services", "api", "cli")
ENV_READ = re.compile(r"os\.environ(?!\.setdefault\(\"OMP_THREAD_LIMIT\")|os\.getenv|getenv\(")


def readme_settings() -> dict[str, str]:
    """``{variable: default}`` from the README's Settings table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| variable | default | what |", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1].strip("`")
    return rows


def documented(default: object) -> str:
    if default == "":
        return "(empty)"
    if isinstance(default, Path):
        return f"./{default}"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def test_the_readme_documents_every_setting_with_its_default() -> None:
    expected = {field.alias: documented(field.default) for field in Settings.model_fields.values()}
    assert readme_settings() == expected


def test_a_wrong_value_is_an_invalid_config_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDS_OCR_TIMEOUT", "soon")
    with pytest.raises(InvalidConfigError, match="CARDS_OCR_TIMEOUT"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CARDS_DEFAULT_REGION", "Europe"), ("CARDS_PROFILE", "turbo"), ("CARDS_OPT_OUT_PER_MINUTE", "0")],
)
def test_values_outside_their_range_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidConfigError, match=variable):
        load_settings()


def test_the_environment_overrides_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDS_DEFAULT_REGION", "gb")
    monkeypatch.setenv("CARDS_OCR_WORKERS", "3")
    settings = load_settings()
    assert (settings.default_region, settings.ocr_workers) == ("GB", 3)


def test_no_module_reads_the_environment_but_the_settings() -> None:
    readers = [
        f"{path.relative_to(ROOT)}:{n}"
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path != ROOT / "core" / "settings.py"
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if ENV_READ.search(text)
    ]
    assert readers == []


def test_importing_every_module_reads_no_setting() -> None:
    """A bad value must not break an import: settings are read by the fronts when they start."""
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if "migrations" not in p.parts and p.name != "__main__.py"
    )
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)\n"
    done = subprocess.run(
        [sys.executable, "-c", code, *modules],
        cwd=ROOT,
        env={"CARDS_DEFAULT_REGION": "not-a-region", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
