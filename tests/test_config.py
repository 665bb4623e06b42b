"""One configuration story: defaults, then the instance's config.py, then STUDIO_* variables, then the app's
own overrides; engines are handed their options and never read the environment."""
from __future__ import annotations

import pytest

from studio import create_app
from studio.config import load_config


def test_the_instance_file_sets_what_the_environment_does_not(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text('PAGE_SIZE = 50\nSITE_TITLE = "Xã Tả Van"\nSECURE_COOKIES = True\n'
                                        'S3_URL = "http://f:f@127.0.0.1:1/from-file"\n', encoding="utf-8")
    env = {"STUDIO_INSTANCE": str(instance), "STUDIO_S3_URL": "http://e:e@127.0.0.1:1/from-env", "STUDIO_FFMPEG_BIN": "/opt/ff"}
    cfg = load_config(env)
    assert cfg["SITE_TITLE"] == "Xã Tả Van"  # the file
    assert cfg["SESSION_COOKIE_SECURE"] is True  # a file's boolean reads as the variable's "1" would
    assert cfg["S3_URL"] == "http://e:e@127.0.0.1:1/from-env"  # the environment wins over the file
    assert cfg["TOOL_BINARIES"] == {"ffmpeg": "/opt/ff"}
    assert load_config({"STUDIO_INSTANCE": str(tmp_path / "bare")})["SITE_TITLE"] == "Thông tin cơ sở"  # default
    from media_pipeline import tools
    try:
        app = create_app({"QUEUE_URL": "memory://", "SITE_TITLE": "override"}, environ=env)
        assert app.config["SITE_TITLE"] == "override" and app.config["S3_URL"] == "http://e:e@127.0.0.1:1/from-env"
        with pytest.raises(tools.ToolMissing, match="STUDIO_FFMPEG_BIN=/opt/ff"):  # handed to the engine
            tools.find("ffmpeg")
    finally:
        tools.configure({})


def test_numbers_from_the_file_are_numbers(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text("NETWORK_OFFLINE_MINUTES = 45\nPAGE_SIZE = 50\n")
    cfg = load_config({"STUDIO_INSTANCE": str(instance)})
    assert cfg["NETWORK_OFFLINE_MINUTES"] == 45 and cfg["PAGE_SIZE"] == 50
