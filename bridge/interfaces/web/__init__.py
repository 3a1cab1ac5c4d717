"""The web console: server-rendered pages under ``/ui`` of ``bridge serve`` for the administrators.

It is one more interface over the same services as the API (docs/console.md): routes parse the form and call a
service function, templates render what it returned. No rule lives here.
"""
