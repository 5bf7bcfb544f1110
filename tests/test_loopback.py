"""loopback: the echo server answers, is bounded in connections, requests and time, and
leaves no thread, client or listening socket behind; request refuses bad bodies."""

from __future__ import annotations

import socket
import time

import pytest

from latency_lab import loopback


def test_echo_server_answers_and_nothing_listens_after(no_leaks):
    with loopback.EchoServer(max_connections=4) as server:
        assert server.is_listening()
        pooled = server.connect(nodelay=True)
        nagle = server.connect(nodelay=False)
        assert nagle.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        for i in range(5):
            body = bytes([i]) * (i + 1)
            assert loopback.request(pooled, body) == body
            assert loopback.request(nagle, body, split=False) == body
        assert loopback.request_on_new_connection(server, b"hello") == b"hello"
        port = server.port
    assert server.requests == 11 and server.connections == 4  # is_listening() connects too
    assert not server.is_listening()
    assert pooled.fileno() == -1 and nagle.fileno() == -1  # stop() closed its clients
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_echo_server_is_bounded(no_leaks):
    with loopback.EchoServer(max_connections=1, max_requests=3) as server:
        first = server.connect()
        loopback.request(first, b"a")
        second = server.connect()  # over max_connections: closed on arrival
        with pytest.raises((ConnectionError, OSError)):
            loopback.request(second, b"b")
        loopback.request(first, b"c")
        loopback.request(first, b"d")  # the third request ends the server
        deadline = time.monotonic() + 5
        while server.is_listening() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not server.is_listening()
    assert server.refused == 1 and server.requests == 3


def test_echo_server_stops_itself_after_its_time_limit(no_leaks):
    server = loopback.EchoServer(time_limit_s=0.05).start()
    deadline = time.monotonic() + 5
    while server.is_listening() and time.monotonic() < deadline:
        time.sleep(0.01)
    server.stop()
    assert server.expired and not server.is_listening()


def test_request_refuses_bad_bodies():
    with socket.socket() as sock:
        with pytest.raises(TypeError, match="body"):
            loopback.request(sock, "text")
        with pytest.raises(ValueError, match="body"):
            loopback.request(sock, b"")
        with pytest.raises(ValueError, match="body"):
            loopback.request(sock, bytes(loopback.MAX_BODY_BYTES + 1))
