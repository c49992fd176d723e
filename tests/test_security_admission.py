"""Admission control over real sockets: agents keep their own request threads, oversized bodies
are refused before they are read, and connections are capped per address and paced."""

import ssl
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.auth.models import User

from tests.agent_client import call, create_agent_user, new_session, request, sample
from tests.security_support import closed_by_peer, open_socket, read_http_head

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

STAFF = ("operator", "operator-password")
TOO_LARGE_HEAD = b"HTTP/1.1 413 "


def post_head(path: str, port: int, extra: str) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    return (head + extra + "\r\n").encode()


def test_a_huge_content_length_is_refused_before_any_body_is_sent(live_backend):
    backend = live_backend()
    port = backend.ports["rest"]
    sock = open_socket(port)
    sock.sendall(post_head("/data", port, "Content-Length: 20000000000\r\n"))  # 20 GB, none of it sent
    head = read_http_head(sock)
    assert head.startswith(TOO_LARGE_HEAD), head
    assert head.endswith(b'{"error":"body_too_large"}') or b"body_too_large" in head + sock.recv(100)
    assert closed_by_peer(sock, 5)


def test_a_huge_content_length_is_refused_on_the_tls_listener_too(live_backend):
    backend = live_backend()
    port = backend.ports["auth"]
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = context.wrap_socket(open_socket(port))
    sock.sendall(post_head("/session", port, "Content-Length: 20000000000\r\nExpect: 100-continue\r\n"))
    head = read_http_head(sock)
    assert head.startswith(TOO_LARGE_HEAD), head


def test_a_chunked_body_is_refused_once_it_outgrows_the_limit(live_backend):
    backend = live_backend()
    port = backend.ports["rest"]
    sock = open_socket(port)
    sock.sendall(post_head("/data", port, "Transfer-Encoding: chunked\r\n"))
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    answered = b""
    sock.settimeout(0.05)
    for _ in range(40):  # 2.5 MiB, never the final chunk
        try:
            sock.sendall(chunk)
            answered += sock.recv(4096)
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            break
        if answered:
            break
    answered += read_http_head(sock) if b"\r\n\r\n" not in answered else b""
    assert answered.startswith(TOO_LARGE_HEAD), answered


def test_agents_keep_their_request_threads_while_40_bad_passwords_are_hashed(live_backend):
    """Forty parallel wrong staff passwords (each a deliberately slow hash) next to an agent's
    ``/data`` calls: with one shared pool each ``/data`` waited behind the hashes (~40 of them
    over the cores); on its own pool it must take less than two hashes."""
    User.objects.create_user(STAFF[0], password=STAFF[1], is_staff=True)
    create_agent_user("agent-1", "agent-password")
    backend = live_backend(env={"POA_AUTH_FAILURE_LIMIT": "1000000"})
    token = new_session(backend.url("auth"), "agent-1", "agent-password")
    history = backend.url("auth") + "/api/agents/"
    wrong = (STAFF[0], "wrong-password")

    def bad_password(session: requests.Session) -> int:
        return session.get(history, auth=wrong, verify=False, timeout=120).status_code

    session = requests.Session()
    bad_password(session)  # the TLS handshake and the first hash, off the clock
    began = time.monotonic()
    assert bad_password(session) == 401
    one_hash = time.monotonic() - began

    body = {"id": "node-1", "type": "ethereum_metrics", "data": sample("statistics")["data"]}
    assert call(backend.url("rest"), "/data", body, token=token).status == 200
    stop = threading.Event()
    latencies: list[float] = []

    def agent() -> None:
        while not stop.is_set():
            began = time.monotonic()
            assert call(backend.url("rest"), "/data", body, token=token).status == 200
            latencies.append(time.monotonic() - began)

    def attacker() -> None:
        attacker_session = requests.Session()
        for _ in range(3):
            assert bad_password(attacker_session) == 401

    agent_thread = threading.Thread(target=agent)
    with ThreadPoolExecutor(40) as pool:
        attacks = [pool.submit(attacker) for _ in range(40)]
        time.sleep(one_hash)  # the pool is full of hashes before the agent starts measuring
        agent_thread.start()
        for attack in attacks:
            attack.result()
    stop.set()
    agent_thread.join()
    assert statistics.median(latencies) < 2 * one_hash, (latencies, one_hash)
    assert len(latencies) >= 5


PROBE = b"POST /ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def answered(sock) -> bool:
    """Whether a /ping on this connection is answered (the server holds the connection)."""
    try:
        sock.sendall(PROBE)
        return read_http_head(sock, timeout=5).startswith(b"HTTP/1.1 422")
    except (ConnectionResetError, BrokenPipeError, TimeoutError):
        return False


def test_connections_from_one_address_are_capped(live_backend):
    backend = live_backend(env={"POA_MAX_CONNECTIONS_PER_ADDRESS": "10"})
    port = backend.ports["rest"]
    held = []
    deadline = time.monotonic() + 10
    while len(held) < 10:  # the start-up probe's connection may still hold a slot for a moment
        sock = open_socket(port)
        if answered(sock):
            held.append(sock)
        assert time.monotonic() < deadline
    extra = open_socket(port)
    assert closed_by_peer(extra, 5), "an eleventh connection from one address was kept"
    assert answered(open_socket(port, source="127.0.0.2"))  # other addresses are served meanwhile
    held.pop().close()
    deadline = time.monotonic() + 5
    while not answered(open_socket(port)):  # the slot is free once the server has seen the close
        assert time.monotonic() < deadline, "a closed connection's slot was not given back"
    for sock in held:
        sock.close()


def test_a_storm_of_new_connections_is_paced_not_refused_for_good(live_backend):
    """120 clients at once against a pace of 40 a second: the storm takes seconds, and every
    client that retries a refused connection gets through."""
    backend = live_backend(env={"POA_MAX_NEW_CONNECTIONS_PER_SECOND": "40"})
    url = backend.url("rest")

    def client() -> int:
        deadline = time.monotonic() + 30
        while True:
            try:
                return request(url, "/ping", b"{}", {"Content-Type": "application/json"}, timeout=30).status
            except (ConnectionError, OSError):
                assert time.monotonic() < deadline
                time.sleep(0.1)

    began = time.monotonic()
    with ThreadPoolExecutor(120) as pool:
        statuses = list(pool.map(lambda _: client(), range(120)))
    took = time.monotonic() - began
    assert statuses == [422] * 120
    assert took >= 1.5, f"120 connections in {took:.2f} s: not paced"
