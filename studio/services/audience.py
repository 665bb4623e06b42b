"""Which of a package's files an endpoint takes: its kind's channels, its languages, its display's size.

One SQL condition on `PackageFile`, shared by the feed query (studio/services/feeds.py) and the programme's
files (studio/services/occurrences.py), so a scheduled item plays exactly the files the feed would send.
"""
from __future__ import annotations

from sqlalchemy import and_, or_

from media_pipeline import profiles as registry
from storage.models import PackageFile

ALERT_ROLE = "cap"


def file_fits(kind: str, display: str = "", languages=None) -> list:
    """Conditions on PackageFile for an endpoint of this kind, display (WIDTHxHEIGHT or "") and languages
    (all when it names none): the kind's channels, the languages, and for a display only pictures and videos
    of exactly its size (files without a size, such as audio and captions, always fit)."""
    spec = registry.ENDPOINT_KINDS[kind]
    fits = [PackageFile.channel.in_(spec.channels)]
    if languages:
        fits.append(PackageFile.language.in_(list(languages)))
    size = registry.parse_display(display)
    if size:
        fits.append(or_(PackageFile.width.is_(None), and_(PackageFile.width == size[0],
                                                          PackageFile.height == size[1])))
    return fits


def feed_file_fits(kind: str, display: str = "", languages=None):
    """The feed's condition: the files that fit (file_fits), and an emergency's CAP document, which every
    endpoint's item of it lists whatever its kind, display and languages (studio/services/cap_out.py)."""
    return or_(PackageFile.role == ALERT_ROLE, and_(*file_fits(kind, display, languages)))
