"""The web app: server-rendered pages at ``/app`` for uploaders, privacy admins and catalog builders.

A third front beside ``api/`` and ``cli/``: Jinja2 templates and plain HTML forms that work
without JavaScript, over the same services and the same purpose policy as the HTTP API. A
little JavaScript of our own (``static/app.js``) adds per-file upload progress, the box
overlay's click-to-edit and keyboard shortcuts; nothing is loaded from elsewhere.
``api.main`` mounts it with :func:`web.app.install`.
"""
