"""Fixtures of the services tests: invented people's cards (``tests/people.py``), a stand-in for OCR."""

from address_book import contacts  # noqa: F401  (a fixture)
from importing import cli_env, fake_ocr  # noqa: F401  (fixtures)
from people import upload  # noqa: F401  (a fixture)
