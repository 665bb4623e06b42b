"""Helpers for media tests: an independent ffprobe and loudness reading (not our own modules)."""
from __future__ import annotations

import json
import re
import subprocess


def ffprobe(path) -> dict:
    """ffprobe's own JSON for a file."""
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                          str(path)], capture_output=True, check=True, text=True)
    return json.loads(out.stdout)


def lufs(path) -> tuple[float, float]:
    """Integrated loudness and true peak from ffmpeg's ebur128, parsed here."""
    out = subprocess.run(["ffmpeg", "-nostats", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
                         capture_output=True, text=True)
    summary = out.stderr[out.stderr.rfind("Summary:"):]
    return (float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1)),
            float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1)))
