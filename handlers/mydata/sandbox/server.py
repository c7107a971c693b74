"""Serving the sandbox with Werkzeug, which drops headers whose names contain '_'.

MyData's own headers (``permission_ticket``, ``tx_id``) do, so this handler lets
exactly those two through; any other underscore header is still dropped.
"""
from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler

MYDATA_HEADERS = ("permission_ticket", "tx_id")


class MyDataRequestHandler(WSGIRequestHandler):
    def make_environ(self):
        environ = super().make_environ()
        for name in MYDATA_HEADERS:
            value = self.headers.get(name)
            if value is not None:
                environ[f"HTTP_{name.upper()}"] = value.replace("\r\n", "")
        return environ
