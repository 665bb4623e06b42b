"""The server's sockets (studio/web/serving.py)."""
from __future__ import annotations


def test_connections_the_server_accepts_send_without_waiting_for_acks():
    """The listening socket carries TCP_NODELAY and the connections accepted on it inherit it (a kept-alive
    client otherwise waits for its own delayed ACK, 40 ms, on every answer after the first)."""
    import socket

    from studio.web.serving import bind
    server = bind("127.0.0.1", 0)
    client = socket.create_connection(server.getsockname())
    conn, _ = server.accept()
    try:
        assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        for s in (conn, client, server):
            s.close()
