"""Huey tasks: thin wrappers that load ids, call the rendering service and schedule retries."""
from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from flask import Flask
from huey import crontab

log = logging.getLogger(__name__)


def render_config(app: Flask):
    """Speech engines and work folder for this worker, built once per process on first use."""
    cfg = app.extensions.get("render_config")
    if cfg is None:
        from media_pipeline.tts import make_engines
        from studio.services.rendering import RenderConfig
        names = [n.strip() for n in app.config["TTS_ENGINES"].split(",") if n.strip()]
        workdir = Path(app.config["INSTANCE"]) / "tmp" / "render"
        workdir.mkdir(parents=True, exist_ok=True)
        cfg = RenderConfig(engines={e.name: e for e in make_engines(names)}, workdir=str(workdir),
                           rules_file=app.config.get("NORMALIZATION_FILE") or None,
                           whisper_model=app.config["WHISPER_MODEL"],
                           model_cache=app.config["MODEL_CACHE"],
                           whisper_beam=app.config["WHISPER_BEAM"], cer_threshold=app.config["CER_THRESHOLD"],
                           public_url=app.config["PUBLIC_URL"], translator=mt_router(app))
        app.extensions["render_config"] = cfg
    return cfg


def mt_router(app: Flask):
    """Machine translation engines for this process, in configured order, built once on first use."""
    router = app.extensions.get("mt_router")
    if router is None:
        from media_pipeline.translate import make_router
        names = [n.strip() for n in app.config["MT_ENGINES"].split(",") if n.strip()]
        router = make_router(names, {"argos": {"models_dir": app.config["TRANSLATION_MODELS"]},
                                     "libretranslate": {"url": app.config["LIBRETRANSLATE_URL"],
                                                        "api_key": app.config["LIBRETRANSLATE_KEY"]}})
        app.extensions["mt_router"] = router
    return router


def register_tasks(app: Flask) -> None:
    """Define the tasks on the app's huey instance (the web process and the workers do the same)."""
    huey = app.extensions["huey"]
    worker_name = f"{socket.gethostname()}:{os.getpid()}"

    @huey.task(name="render")
    def render_task(job_id: int) -> str:
        from studio.extensions import db
        from studio.services import rendering
        with app.app_context():
            outcome = rendering.run_job(db.session, app.extensions["objectstore"], render_config(app), job_id,
                                        worker_name)
            if outcome.retry_in is not None:
                render_task.schedule((job_id,), delay=outcome.retry_in)
            return outcome.state

    @huey.periodic_task(crontab(minute="*"), name="requeue_stale_jobs")
    def requeue_stale_jobs() -> list[int]:
        from studio.extensions import db
        from studio.services import rendering
        with app.app_context():
            ids = rendering.requeue_stale(db.session, app.config["JOB_STALE_SECONDS"])
        for job_id in ids:
            render_task(job_id)
        return ids

    app.extensions["tasks"] = {"render": render_task, "requeue_stale_jobs": requeue_stale_jobs}


def enqueue(app: Flask, job_ids: list[int]) -> None:
    """Hand committed jobs to the queue."""
    for job_id in job_ids:
        app.extensions["tasks"]["render"](job_id)
