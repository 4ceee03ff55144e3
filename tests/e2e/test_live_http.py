"""Raw HTTP at the live gunicorn server: paths no client library normalises, oversized and broken requests.

(The in-process attack tests are in tests/experiment/test_attacks.py; the e2e fixture checks at the end that
the server logged no traceback at all.)
"""

from __future__ import annotations

import http.client
import socket
from urllib.parse import urlsplit

import pytest
import requests


def raw(live, method: str, path: str, headers: dict | None = None, body: bytes | None = None):  # noqa: ANN001, ANN201
    """Send exactly this request line (http.client does not touch the path)."""
    netloc = urlsplit(live.base).netloc
    conn = http.client.HTTPConnection(netloc, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("path", [
    "/static/../experiment/config.py",
    "/static/../../../../etc/passwd",
    "/static/css/../../migrations/env.py",
    "/static/..%2f..%2fexperiment/config.py",
    "/api/study/{eid}/audio/../../../../etc/passwd",
    "/api/study/{eid}/audio/..%2f..%2fmanifest.json",
    "/study/{eid}/../../experiment/config.py",
    "/admin/../experiment/config.py",
])
def test_raw_traversal_paths(live_server, path):
    status, headers, body = raw(live_server, "GET", path.format(eid=live_server.studies["main"]))
    assert status in (301, 302, 308, 400, 401, 404), (path, status)
    assert b"SECRET" not in body and b"root:" not in body and b"import " not in body


def test_broken_and_oversized_requests_are_4xx_and_the_server_lives_on(live_server):
    live = live_server
    status, _, _ = raw(live, "GET", "/", headers={"X-Padding": "a" * 20_000})
    assert 400 <= status < 500
    status, _, _ = raw(live, "GET", "/study/1/?" + "a" * 10_000)
    assert 400 <= status < 500
    status, _, _ = raw(live, "POST", f"/api/study/{live.studies['main']}/answer",
                       headers={"Content-Type": "application/json"}, body=b"{" + b" " * 100_000 + b"}")
    assert status == 413
    with socket.create_connection(("127.0.0.1", urlsplit(live.base).port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage \r\n\r\n")  # a TLS hello, say
        reply = sock.recv(200)
    assert reply == b"" or reply.startswith(b"HTTP/1.1 400")
    for method in ("HEAD", "OPTIONS", "PUT", "DELETE", "TRACE", "PROPFIND"):
        response = requests.request(method, live.study_url("main"), timeout=5)
        assert response.status_code < 500, (method, response.status_code)
        if method != "TRACE":
            assert "frame-ancestors 'none'" in response.headers.get("Content-Security-Policy", ""), method
    assert requests.get(live.study_url("main"), timeout=5).status_code == 200  # still serving


def test_security_headers_on_the_live_server(live_server):
    """What gunicorn sends on, from the app: the headers on pages, JSON, audio-less 401s, static files, errors."""
    live = live_server
    for path in ("/", f"/study/{live.studies['main']}/", f"/study/{live.studies['main']}/consent",
                 f"/api/study/{live.studies['main']}/state", "/static/css/style.css", "/static/js/abx.js",
                 "/admin/login", "/admin/", "/nope", "/study/999999/"):
        response = requests.get(live.url(path), timeout=5, allow_redirects=False)
        h = response.headers
        assert response.status_code < 500, path
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"], path
        assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY", path
        assert h.get("Server", "gunicorn") == "gunicorn"  # no versions advertised
