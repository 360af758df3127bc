"""Retry semantics of both writers, against a scripted HTTP server on loopback.

Neither Debian server can be made to answer 429 or 503 with ``Retry-After`` on
demand, so a small real HTTP server plays those answers; the writers talk to it over
a real socket exactly as to InfluxDB.
"""

from __future__ import annotations

import gzip
import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from twin.sinks.errors import TransientWriteError, WriteRejected
from twin.sinks.influx import (
    InfluxV1Writer,
    InfluxV2Writer,
    RetryPolicy,
    classify_response,
    send_with_retry,
)
from twin.sinks.record import Record
from twin.sinks.sink import Sink


class Scripted(http.server.ThreadingHTTPServer):
    """Answers each request with the next (status, headers, body) of ``script``."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.requests: list[tuple[float, str, dict[str, str], bytes]] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Scripted
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.requests.append((time.monotonic(), self.path, dict(self.headers), body))
        status, headers, payload = (
            self.server.script.pop(0) if self.server.script else (204, {}, b"")
        )
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[Scripted]:
    server = Scripted()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["v1", "v2"])
def writer(request, stub):
    if request.param == "v1":
        made = InfluxV1Writer(stub.url, "twin", username="u", password="pw")
    else:
        made = InfluxV2Writer(stub.url, "org", "bucket", "tok")
    yield made
    made.close()


def test_retry_after_is_honoured_then_backoff(stub, writer) -> None:
    stub.script = [
        (503, {"Retry-After": "1"}, b'{"error":"starting"}'),
        (429, {"Retry-After": "0"}, b""),
        (500, {}, b"oops"),
        (204, {}, b""),
    ]
    # Backoff alone would wait 0.3, 0.6, 1.2 s: Retry-After must replace the first two.
    policy = RetryPolicy(initial_delay=0.3, jitter=0.0)
    attempts = []

    def on_retry(error: TransientWriteError, attempt: int, delay: float) -> None:
        attempts.append((error.status, error.retry_after, delay))

    assert send_with_retry(writer, b"m f=1.0 1", policy, on_retry=on_retry)
    assert [a[0] for a in attempts] == [503, 429, 500]
    assert attempts[0][1:] == (1.0, 1.0) and attempts[1][1:] == (0.0, 0.0)
    assert attempts[2][1] is None and attempts[2][2] == pytest.approx(0.3 * 2**2)
    times = [r[0] for r in stub.requests]
    assert len(times) == 4 and times[1] - times[0] >= 0.95
    assert stub.requests[-1][3] == b"m f=1.0 1"  # the same body each time
    assert policy.delay(1, retry_after=1000.0) == 300.0  # capped


@pytest.mark.parametrize(
    ("status", "cause"),
    [
        (400, "malformed"),
        (401, "bad-token"),
        (403, "forbidden"),
        (404, "not-found"),
        (413, "too-large"),
    ],
)
def test_client_errors_are_not_retried(stub, writer, status, cause) -> None:
    stub.script = [(status, {}, b'{"code":"x","message":"the server\'s own words"}')]
    with pytest.raises(WriteRejected) as caught:
        send_with_retry(writer, b"m f=1.0 1", RetryPolicy(initial_delay=0.01))
    assert caught.value.cause == cause and caught.value.status == status
    assert "the server's own words" in str(caught.value)
    assert len(stub.requests) == 1


def test_secrets_travel_in_headers_not_urls(stub, writer) -> None:
    writer.write(b"m f=1.0 1")
    _, path, headers, body = stub.requests[0]
    assert "pw" not in path and "tok" not in path and "precision=ns" in path
    assert headers["Authorization"] in ("Token tok", "Basic dTpwdw==")
    assert headers["Content-Encoding"] == "gzip" and body == b"m f=1.0 1"
    assert "tok" not in repr(writer) and "pw" not in repr(writer)


def test_give_up_after_max_attempts(stub, writer) -> None:
    stub.script = [(503, {}, b"")] * 3
    with pytest.raises(TransientWriteError, match="503"):
        send_with_retry(writer, b"m f=1.0 1", RetryPolicy(initial_delay=0.01, max_attempts=3))
    assert len(stub.requests) == 3


def test_sink_rides_out_a_flapping_server(stub) -> None:
    stub.script = [(503, {}, b"")] * 3 + [(204, {}, b"")] + [(502, {}, b"")] * 2
    records = [Record("m", {"d": "a"}, {"v": i}, i) for i in range(30)]
    retry = RetryPolicy(initial_delay=0.01, max_delay=0.05)
    with Sink(InfluxV1Writer(stub.url, "db"), None, batch_size=10, retry=retry) as sink:
        sink.write(records)
        assert sink.flush(timeout=30)
        assert sink.status.sent == 30 and sink.status.retries == 5
    bodies = [r[3] for r in stub.requests]
    delivered = [line for body in dict.fromkeys(bodies) for line in body.decode().split("\n")]
    assert [int(line.rsplit(" ", 1)[1]) for line in delivered] == list(range(30))  # in order


def test_classify_unknown_status_and_http_date_retry_after() -> None:
    error = classify_response(418, b"teapot", {}, target="t", api="v2")
    assert isinstance(error, WriteRejected) and error.cause == "rejected"
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    error = classify_response(503, b"", {"Retry-After": later}, target="t", api="v1")
    assert isinstance(error, TransientWriteError) and 20 < (error.retry_after or 0) <= 30
