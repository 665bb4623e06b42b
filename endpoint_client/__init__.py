"""The reference endpoint client (`studio-endpoint sync`, or `studio endpoint sync` beside a studio): what a player
box runs every minute. It talks to the studio only over HTTP (and MQTT notices) and imports nothing of the
server, so it ships to a device alone: client.py (SyncClient), notices.py (MQTT), cli.py (the command line).

It fetches its feed (sending the last ETag), downloads missing files with resume, checks each file's sha256
before it is used, removes what is no longer listed (expired or retracted), keeps the last good state when the
network is down, and sends its reports: a heartbeat with what it holds, refused files, and queued play reports.

Layout of DIR: state.json (the last good feed), media/<sha256>, manifests/<package id>.json, partial/ (resumable
downloads), outbox.json (reports not yet delivered).
"""
from __future__ import annotations

from endpoint_client.client import SOFTWARE, SyncClient, SyncError, SyncResult

__all__ = ["SOFTWARE", "SyncClient", "SyncError", "SyncResult"]
