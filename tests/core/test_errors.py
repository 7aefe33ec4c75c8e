"""The error vocabulary: stable codes, exit statuses, messages that say what to do next.

The classes are defined by the layer that raises them; this module imports every such
module, so the vocabulary below is complete, and checks it against the README's table.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import models.errors
import services.errors
from api import errors as api_errors
from core.errors import CardError, ExitCode, error_from_exception
from ingest import errors
from web import errors as web_errors  # noqa: F401  (its classes join the vocabulary)

ERROR_MODULES = {
    "core.errors",
    "ingest.errors",
    "models.errors",
    "services.errors",
    "api.errors",
    "web.errors",
}
README = Path(__file__).resolve().parents[2] / "README.md"


def all_error_classes() -> list[type[CardError]]:
    found: list[type[CardError]] = []
    pending = [CardError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: cls.__name__)


ERROR_CLASSES = all_error_classes()
SUBCLASSES = [cls for cls in ERROR_CLASSES if cls is not CardError]

# Published in CLI JSON, HTTP problem types and scripts: renaming one is a breaking change.
PUBLISHED_CODES = {
    "error": ExitCode.other,
    "input_file": ExitCode.input_file,
    "empty_file": ExitCode.input_file,
    "unreadable_file": ExitCode.input_file,
    "unsupported_format": ExitCode.input_file,
    "corrupt_image": ExitCode.input_file,
    "image_too_small": ExitCode.input_file,
    "image_too_large": ExitCode.input_file,
    "no_text_found": ExitCode.input_file,
    "ocr_failed": ExitCode.ocr_engine,
    "ocr_timeout": ExitCode.ocr_engine,
    "missing_dependency": ExitCode.missing_dependency,
    "bad_arguments": ExitCode.bad_args,
    "invalid_config": ExitCode.invalid_config,
    "storage_error": ExitCode.storage,
    "not_found": ExitCode.not_found,
    "forbidden": ExitCode.forbidden,
    "invalid_attestation": ExitCode.bad_args,
    "subject_suppressed": ExitCode.input_file,
    "not_eligible": ExitCode.forbidden,
    "unsupported_media_type": ExitCode.other,
    "invalid_idempotency_key": ExitCode.bad_args,
    "idempotency_key_reused": ExitCode.other,
    "idempotency_key_in_progress": ExitCode.other,
    "unauthorized": ExitCode.other,
    "csrf_failed": ExitCode.other,
    "body_too_large": ExitCode.other,
    "overloaded": ExitCode.other,
}


def test_every_error_class_has_its_own_code_or_refines_its_parents() -> None:
    """A subclass may keep its parent's code (an upload too large is still image_too_large, with 413)."""
    owners: dict[str, type[CardError]] = {}
    for cls in ERROR_CLASSES:
        owner = owners.setdefault(cls.code, cls)
        assert issubclass(cls, owner) or issubclass(owner, cls), (cls.__name__, owner.__name__, cls.code)


def test_every_error_class_lives_in_an_errors_module_of_its_layer() -> None:
    """A class defined anywhere else would hide from this vocabulary (and from the README)."""
    import cli.importer  # noqa: F401

    assert {cls.__module__ for cls in all_error_classes()} == ERROR_MODULES
    assert {api_errors.__name__, models.errors.__name__, services.errors.__name__} <= ERROR_MODULES


def readme_error_rows() -> list[tuple[str, str, str]]:
    """``(code, exit, HTTP)`` of every row of the README's error table."""
    text = README.read_text(encoding="utf-8")
    table = text.split("| code | exit | HTTP |", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append((cells[0].strip("`"), cells[1], cells[2]))
    return rows


def test_every_code_is_documented_once_in_the_readme_with_its_statuses() -> None:
    documented = readme_error_rows()
    codes = [code for code, _, _ in documented]
    assert sorted(codes) == sorted(set(codes)), "a code is documented twice"
    # the class that introduces a code (a subclass may refine only the HTTP status, e.g. 413)
    owners = {cls.code: cls for cls in ERROR_CLASSES if cls is CardError or cls.__mro__[1].code != cls.code}
    assert set(codes) == set(owners), "the README's codes and the classes' differ"
    for code, exit_status, http in documented:
        cls = owners[code]
        statuses = {c.http_status for c in ERROR_CLASSES if c.code == code}
        assert exit_status == str(int(cls.exit_code)), code
        assert {int(n) for n in re.findall(r"\d{3}", http)} == statuses, code


def test_error_codes_are_the_published_vocabulary_with_their_exit_statuses() -> None:
    assert {cls.code: cls.exit_code for cls in ERROR_CLASSES} == PUBLISHED_CODES


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_error_code_is_a_snake_case_identifier(cls: type[CardError]) -> None:
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cls.code)


def test_exit_statuses_are_stable() -> None:
    assert {member.name: int(member) for member in ExitCode} == {
        "ok": 0,
        "card_failed": 1,
        "bad_args": 2,
        "input_file": 3,
        "missing_dependency": 4,
        "ocr_engine": 5,
        "invalid_config": 6,
        "storage": 7,
        "not_found": 8,
        "forbidden": 9,
        "other": 15,
    }


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_error_maps_to_an_http_error_status(cls: type[CardError]) -> None:
    assert 400 <= cls.http_status <= 599


@pytest.mark.parametrize(
    "cls", [c for c in SUBCLASSES if issubclass(c, errors.InputFileError)], ids=lambda cls: cls.__name__
)
def test_input_file_errors_are_client_errors(cls: type[CardError]) -> None:
    assert 400 <= cls.http_status <= 499


@pytest.mark.parametrize("cls", SUBCLASSES, ids=lambda cls: cls.__name__)
def test_error_class_has_a_hint_saying_what_to_do(cls: type[CardError]) -> None:
    assert cls.hint.strip(), f"{cls.__name__} tells the user nothing to do"


@pytest.mark.parametrize("cls", SUBCLASSES, ids=lambda cls: cls.__name__)
def test_message_is_followed_by_the_hint(cls: type[CardError]) -> None:
    error = cls("Something specific went wrong.")
    assert error.full_message == f"Something specific went wrong. {cls.hint}"
    assert str(error) == error.full_message


@pytest.mark.parametrize("cls", SUBCLASSES, ids=lambda cls: cls.__name__)
def test_default_message_is_a_sentence_not_the_code(cls: type[CardError]) -> None:
    error = cls()
    assert error.message != cls.code
    assert error.full_message.endswith(cls.hint)


def test_explicit_hint_replaces_the_class_hint() -> None:
    error = errors.CorruptImageError("Bad data.", hint="Try the other file.")
    assert error.full_message == "Bad data. Try the other file."
    assert errors.CorruptImageError.hint not in error.full_message


def test_to_dict_is_exactly_code_and_full_message() -> None:
    error = errors.ImageTooSmallError("The image is only 50x30 px.")
    assert error.to_dict() == {"code": "image_too_small", "message": error.full_message}


def test_card_errors_pass_through_error_from_exception_unchanged() -> None:
    error = errors.EmptyFileError("Empty.")
    assert error_from_exception(error) is error


def test_unexpected_exception_becomes_a_generic_error_that_asks_for_a_bug_report() -> None:
    cause = ZeroDivisionError("division by zero")
    error = error_from_exception(cause)
    assert type(error) is CardError
    assert error.code == "error"
    assert error.exit_code is ExitCode.other
    assert "ZeroDivisionError" in error.message and "division by zero" in error.message
    assert "bug" in error.full_message.lower()
    assert error.__cause__ is cause
