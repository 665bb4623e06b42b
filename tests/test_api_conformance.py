"""The API against its own OpenAPI document, fuzzed by schemathesis over HTTP against a real `studio serve`.

Every check schemathesis has runs except `positive_data_acceptance`: a body the schema allows can still be
refused for reasons a schema cannot state (an area id that does not exist, "valid until" before "valid
from", a workflow action the work's state forbids), and those refusals are 400s that name the field.
Stateful runs follow the document's links (create a work → save, submit, diff, upload, render, translate).
Two runs: the staff operations with an admin's token, the endpoint operations with an endpoint's token.
A fixed seed keeps CI reproducible; run the same command with another `--seed` to explore further.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import ROOT, free_port, start_serve, stop

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
ENDPOINT_PATHS = "^/api/v1/(feed|reports)$"


def studio_cli(instance: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env["STUDIO_INSTANCE"] = str(instance)
    out = subprocess.run([sys.executable, "-m", "studio.cli", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def fuzz(url: str, token: str, report: Path, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    """One schemathesis run; returns the process and how many requests it sent (from its HAR report)."""
    proc = subprocess.run(
        [str(SCHEMATHESIS), "run", f"{url}/api/v1/openapi.json", "-H", f"Authorization: Bearer {token}",
         "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--seed", "20261123",
         "--no-color", "--report", "har", "--report-har-path", str(report), *args],
        capture_output=True, text=True, timeout=1500, cwd=report.parent)  # its .schemathesis cache goes there
    entries = json.loads(report.read_text())["log"]["entries"] if report.exists() else []
    return proc, len(entries)


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path):
    instance, port = tmp_path / "instance", free_port()
    proc, _ = start_serve(instance, port)
    try:
        token = studio_cli(instance, "token", "create", "admin", "--name", "schemathesis")
        endpoint = json.loads(studio_cli(instance, "endpoint", "add", "--name", "Loa xã Tân Thanh",
                                         "--kind", "loudspeaker", "--json"))
        url = f"http://127.0.0.1:{port}"
        staff, staff_requests = fuzz(url, token, tmp_path / "staff.har", "--exclude-path-regex", ENDPOINT_PATHS,
                                     "--max-examples", "150", "--workers", "2")
        ep, ep_requests = fuzz(url, endpoint["token"], tmp_path / "endpoint.har", "--include-path-regex",
                               ENDPOINT_PATHS, "--phases", "coverage,fuzzing", "--max-examples", "500")
    finally:
        stop(proc)
        server_log = "".join(proc.lines)
    assert staff.returncode == 0, staff.stdout[-6000:]
    assert ep.returncode == 0, ep.stdout[-6000:]
    assert "Stateful" in staff.stdout and "Scenarios:" in staff.stdout  # the links were followed
    assert staff_requests + ep_requests >= 5000, (staff_requests, ep_requests)
    assert "Traceback" not in server_log, server_log[-4000:]
