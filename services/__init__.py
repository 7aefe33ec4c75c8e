"""The services layer: everything the product does with records, between the fronts and the tables.

``api/`` (HTTP), ``cli/`` (the ``cards`` command) and the web pages are thin fronts: they
parse a request, call one function here and render its answer. The functions here work in
a caller's :class:`~sqlmodel.Session` and only flush (one request = one transaction, the
caller commits), read records for a purpose only through :mod:`models.policy`, and write
an audit event in the same transaction as every change that matters to a person.

Modules by concern: ``records`` (store, correct, delete), ``subjects`` (who a card is about),
``deletion`` (what deleting records removes, and the after-commit cleanup), ``rights``
(opt-out, erasure, child), ``access`` (the access report), ``disclosures`` (partner feed,
Shine-the-Light), ``invites``, ``catalog``, ``cards`` (the uploader's view of their cards),
``uploads`` and ``jobs`` (cards arriving over HTTP), ``importer`` (a folder), ``export``
(one writer per format), ``principals``, ``idempotency``, ``health``, ``database``.
"""
