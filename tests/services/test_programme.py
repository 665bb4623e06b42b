"""The commune's programme (issue #24): offers, the three levels, zones, relays, recurrence, the calendar and
the as-run, on SQLite (PostgreSQL: test_postgresql.py), through the API, and played by the reference client."""
from __future__ import annotations

from tests.services.programme_cases import check_programme


def test_the_programme_on_sqlite(app, users):
    from studio.extensions import db
    with app.app_context():
        check_programme(db.session)
