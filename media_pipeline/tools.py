"""One place that finds external programs and runs them, with their stderr on failure."""
from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess

from media_pipeline.errors import EngineError, ToolMissing

log = logging.getLogger(__name__)


def find(tool: str) -> str:
    """Path of `tool`: $STUDIO_<TOOL>_BIN first, then PATH, else ToolMissing."""
    env = os.environ.get(f"STUDIO_{tool.upper().replace('-', '_')}_BIN")
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise ToolMissing(f"{tool}: STUDIO_{tool.upper().replace('-', '_')}_BIN={env} is not an executable")
        return env
    path = shutil.which(tool)
    if not path:
        raise ToolMissing(f"{tool} is not installed; on Debian: apt-get install "
                          f"{'ffmpeg' if tool.startswith('ff') else tool}")
    return path


def run(tool: str, args: list[str], timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run a tool, logging the exact command; raise EngineError with its stderr on failure."""
    cmd = [find(tool), *args]
    log.debug("run: %s", shlex.join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise EngineError(f"{tool} did not finish in {timeout:.0f}s") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise EngineError(f"{tool} failed ({proc.returncode}): " + " | ".join(err))
    return proc
