"""The Alembic environment, shipped inside the package so an installed service can migrate itself.

Use :mod:`models.migrate` (or ``cards db upgrade``) rather than the ``alembic`` command: it
builds the configuration in code, so no ``alembic.ini`` is needed.
"""
