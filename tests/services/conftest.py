"""Fixtures of the services tests: invented people's cards (``tests/people.py``), a stand-in for OCR."""

from address_book import contacts  # noqa: F401  (a fixture)
from importing import fake_ocr  # noqa: F401  (a fixture)
from people import upload  # noqa: F401  (a fixture)
