"""Background jobs: the one package that owns a job's life.

    create ──(after commit: notify)──> queued ──claim──> running ──> succeeded
      │ after=[ids]                      ^   (conditional UPDATE)   │──> failed (code + params; retried with
      v                                  │                          │     backoff while transient)
    waiting ──(every dependency done)────┘                          │──> cancelled (cancel kills its programs)
                                         ^── shutdown / stale heartbeat (sweep) puts it back

- Handlers register by kind (`@handler("render", needs=("store", ...))`), each service its own; a handler gets
  a `Context` and only the resources it names (registry.py). The worker wiring (worker.py `init_app`) names the
  modules that register handlers (`JOB_HANDLERS`), supplies resources and installs the session hooks; this
  package imports none of the handlers' modules.
- queue.py: creating, lanes, claiming, dependencies, sweeping, cancel and retry. runner.py: `execute` (one job
  under its heartbeat) and `Loop`, the one run loop of the worker pool, the in-memory queue and `studio
  render`. failures.py: how a failure is classified and recorded. worker.py: the app's runtime and the pool.
- Workers claim in lane order (`rank`): 0 emergency, 1 delivery (publish, feeds), 2 priority, 3 normal; some
  workers take only ranks 0-1, so an emergency never waits behind a long render. Programs of normal and
  priority jobs run with a lower CPU priority (nice 10).
- While a job runs, a heartbeat thread of its own (not the job's progress) writes `heartbeat_at`, only while
  this worker still owns the job; it reads cancel requests and the job's timeout and stops the job's programs
  through its `tools.Scope` within about a second.
- Jobs are handed to workers after the transaction that created them commits (a session hook calls the
  notifier the wiring installed); workers also poll, so a crash between commit and notice loses nothing.
- A failure is stored as a code, an English message template (translated when shown) and its parameters.

Why not huey any more: the job row already held state, claim, retries and cancellation, so a broker message
duplicated it — a job could be committed and never enqueued, or enqueued twice — and huey's consumer can
neither reserve workers for a lane nor stop a running task. The database is the queue; Redis, where
configured, only wakes workers up (worker.py).
"""
from __future__ import annotations

from studio.jobs.failures import classify, error_text, error_values, record_error
from studio.jobs.queue import (DELIVERY_KINDS, FINAL, RANK_DELIVERY, RANK_EMERGENCY, RANK_NORMAL, RANK_PRIORITY,
                               URGENT_MAX_RANK, cancel, claim, claim_next, create, for_work, get_job, install_hooks,
                               new_owner, rank_for, requeue_running, resolve_waiting, retry, set_notifier, sweep,
                               with_dependencies)
from studio.jobs.registry import Context, Handler, add_log, handler, handlers
from studio.jobs.runner import BACKOFF_S, DEFAULT_TIMEOUT_S, Loop, Running, execute, run_here

__all__ = ["BACKOFF_S", "DEFAULT_TIMEOUT_S", "DELIVERY_KINDS", "FINAL", "RANK_DELIVERY", "RANK_EMERGENCY",
           "RANK_NORMAL", "RANK_PRIORITY", "URGENT_MAX_RANK", "Context", "Handler", "Loop", "Running", "add_log",
           "cancel", "claim", "claim_next", "classify", "create", "error_text", "error_values", "execute",
           "for_work", "get_job", "handler", "handlers", "install_hooks", "new_owner", "rank_for", "record_error",
           "requeue_running", "resolve_waiting", "retry", "run_here", "set_notifier", "sweep",
           "with_dependencies"]
