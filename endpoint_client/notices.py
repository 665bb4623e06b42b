"""Notices of feed changes over MQTT: the endpoint syncs as soon as the studio's broker announces that a feed of
its areas changed (it polls as well; a lost notice only delays)."""
from __future__ import annotations

import secrets
from typing import Callable
from urllib.parse import urlparse

# The studio publishes on this topic per area code ("all" for every area); studio/mqtt.py uses the same.
TOPIC = "studio/feeds/{code}"


def listen(url: str, areas: list[str], on_notice: Callable[[], None]):
    """Subscribe on mqtt://USER:PASSWORD@host:port to the areas' topics; call on_notice for each message.
    Returns the paho client (its loop runs in a thread of its own)."""
    import paho.mqtt.client as mqtt
    u = urlparse(url)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"endpoint-{secrets.token_hex(4)}")
    if u.username:
        c.username_pw_set(u.username, u.password or "")
    c.on_message = lambda *_a: on_notice()
    c.connect(u.hostname or "127.0.0.1", u.port or 1883, keepalive=30)
    c.loop_start()
    for code in areas:
        c.subscribe(TOPIC.format(code=code), qos=1)
    return c
