"""Fixtures of the CLI tests: invented people's cards, and `cards` pointed at a test's database."""

from address_book import contacts  # noqa: F401  (a fixture)
from importing import cli_env  # noqa: F401  (a fixture)
from people import upload  # noqa: F401  (a fixture)
