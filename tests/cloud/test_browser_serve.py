"""The page tests' waitress helper must stop cleanly: a keep-alive connection left open
by the browser is closed by the server when the block ends, so no socket is left for the
garbage collector (which pytest, with warnings as errors, reports against whichever test
happens to run next)."""
import gc
import http.client
import socket

from browser import serve


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def test_serve_closes_open_keep_alive_connections_on_exit():
    with serve(hello) as base:
        port = int(base.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/")
        resp = conn.getresponse()
        assert resp.read() == b"ok"  # the connection stays open (HTTP/1.1 keep-alive)
    conn.sock.settimeout(5)
    try:
        assert conn.sock.recv(1) == b""  # the server closed its end
    except ConnectionResetError:
        pass  # also closed
    finally:
        conn.close()
    gc.collect()  # an unclosed server socket would raise ResourceWarning here


def test_serve_stops_its_listener():
    with serve(hello) as base:
        port = int(base.rsplit(":", 1)[1])
    s = socket.socket()
    try:
        s.settimeout(2)
        assert s.connect_ex(("127.0.0.1", port)) != 0
    finally:
        s.close()
