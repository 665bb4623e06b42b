"""Dependencies point one way: studio/web -> studio/services -> media_pipeline -> storage."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports_of(package: str):
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue  # Alembic's env.py is Flask-Migrate's glue, not part of the storage API
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                yield path, node.module


def test_storage_and_media_pipeline_never_import_studio():
    bad = [(str(p), m) for pkg in ("storage", "media_pipeline") for p, m in imports_of(pkg)
           if m == "studio" or m.startswith("studio.")]
    assert not bad


def test_services_and_jobs_never_import_flask_or_web():
    """Services and the job queue and runner work on a session and a caller; of the jobs package only the worker
    wiring (studio/jobs/worker.py, which reads the app's configuration) knows Flask."""
    found = [*imports_of("studio/services"), *((p, m) for p, m in imports_of("studio/jobs") if p.name != "worker.py")]
    assert len({p for p, _ in found}) > 25  # both are really read
    bad = [(str(p), m) for p, m in found
           if m.split(".")[0] in ("flask", "flask_babel", "flask_login", "flask_wtf", "werkzeug.wrappers")
           or m.startswith("studio.web")]
    assert not bad


def test_views_query_nothing_and_meet_service_errors_in_one_place():
    """The web layer asks services for its data (no `select(` in a view) and turns a service error into a flash
    through the one helper (`helpers.form_errors`), not its own `except StudioError` block."""
    views = [p for p in (ROOT / "studio/web").glob("*.py")]
    assert len(views) > 10
    queries = [p.name for p in views for node in ast.walk(ast.parse(p.read_text()))
               if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "select"]
    assert not queries
    handlers = [p.name for p in views if p.name != "helpers.py"
                for node in ast.walk(ast.parse(p.read_text())) if isinstance(node, ast.ExceptHandler)
                and getattr(node.type, "id", None) == "StudioError" and node.name]
    assert not handlers


def test_only_the_configuration_reads_studio_variables():
    """Every STUDIO_* variable is read in studio/config.py and handed to the engines as options. (The endpoint
    client is a program of its own on the device and reads its own STUDIO_ENDPOINT_TOKEN.)"""
    reads = []
    for package in ("studio", "media_pipeline", "storage"):
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "studio/config.py" or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                environ = (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
                           and getattr(node.value, "id", None) == "os")
                if environ:
                    reads.append((path, node.lineno))
    where = {f"{p.relative_to(ROOT)}:{n}" for p, n in reads}
    studio_reads = set()
    for p, n in reads:
        line = p.read_text().splitlines()[n - 1]
        if "STUDIO_" in line:
            studio_reads.add(f"{p.relative_to(ROOT)}:{n}")
    assert where  # the walk sees os.environ where it is used (subprocess environments, systemd's socket)
    assert not studio_reads


def test_the_endpoint_client_imports_nothing_of_the_server():
    """endpoint_client/ ships to a player box alone: requests and paho, nothing of studio, storage or the
    media pipeline; the MQTT topic it listens on is the one the studio announces on."""
    found = list(imports_of("endpoint_client"))
    assert len({p for p, _ in found}) >= 4
    assert not [(str(p), m) for p, m in found if m.split(".")[0] in ("studio", "storage", "media_pipeline")]
    from endpoint_client import notices
    from studio import mqtt
    assert notices.TOPIC == mqtt.TOPIC


def test_storage_never_imports_media_pipeline():
    assert not [(str(p), m) for p, m in imports_of("storage") if m.startswith("media_pipeline")]


def test_nothing_heavy_happens_at_import(tmp_path):
    """Importing every module starts no process and opens no socket."""
    import subprocess
    import sys
    code = ("import socket, subprocess\n"
            "def boom(*a, **k): raise SystemExit('network or process at import time')\n"
            "socket.socket.connect = boom; subprocess.Popen.__init__ = boom\n"
            "import studio, studio.cli, studio.web, studio.web.api, studio.web.works, studio.web.admin\n"
            "import storage.objectstore, storage.seaweed, storage.models, media_pipeline.probe\n"
            "print('clean')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "clean", out.stderr


def _module_graph() -> dict[str, set[str]]:
    """Each project module and the project modules it imports, at the top or inside a function."""
    mods = {}
    for pkg in ("studio", "storage", "media_pipeline", "endpoint_client"):
        for path in (ROOT / pkg).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            mods[name] = path
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                # `from pkg import sub` needs the submodule; `from pkg import name` needs the package's module.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in mods and t != name)
    return graph


def test_no_import_cycle_among_the_projects_modules():
    """Imports inside functions count: a cycle hidden in a function is still a cycle (Tarjan's algorithm)."""
    graph = _module_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert len(graph) > 50 and graph["studio.services.rendering"]  # the graph is really read
    assert not cycles, cycles


# One mechanism each, long by nature: the schema, the OpenAPI document and the Vietnamese normaliser.
LONG_BY_NATURE = {"storage/models.py", "studio/web/openapi.py", "media_pipeline/text/normalize_vi.py"}


def test_no_module_over_500_lines():
    """A module that grows past 500 lines holds more than one mechanism: split it."""
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines())
             for top in ("studio", "media_pipeline", "storage", "endpoint_client") for p in (ROOT / top).rglob("*.py")
             if "migrations" not in p.parts}
    assert len(sizes) > 80
    assert {p: n for p, n in sizes.items() if n > 500 and p not in LONG_BY_NATURE} == {}
