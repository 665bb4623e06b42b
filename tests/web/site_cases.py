"""Live items written as rows for the commune-site tests and benchmark: a work, its revision and its published
package with the manifest fields the site reads (titles, texts, source language, files) and its areas."""
from __future__ import annotations

from storage.models import Package, PackageArea, Revision, User, Work, utcnow
from media_pipeline.text.unicode import fold


def live_item(session, author: User, title: str, codes: list[str], kind: str = "article", priority: str = "normal",
              topics=(), summary: str = "", body: str = "Nội dung.", state: str = "published", texts=None,
              files=(), **validity) -> Work:
    """A published work (state `state`) with a live package sent to `codes` (none: everywhere)."""
    now = utcnow()
    work = Work(kind=kind, title=title, summary=summary, body=body, author_id=author.id, source_language="vi",
                priority=priority, state=state, topics=list(topics), published_at=now, published_revision=1,
                search_text=fold(f"{title}\n{summary}\n{body}\n{' '.join(topics)}"))
    session.add(work)
    session.flush()
    session.add(Revision(work_id=work.id, number=1, author_id=author.id, snapshot={
        "kind": kind, "title": title, "summary": summary, "body": body, "chapters": [], "source_language": "vi"}))
    titles = {"vi": title, **{lang: t["title"] for lang, t in (texts or {}).items()}}
    if state == "published":
        pk = Package(work_id=work.id, version=1, revision=1, state="published", priority=priority,
                     area_codes=list(codes), channels=["web"], published_by_id=author.id, published_at=now,
                     manifest={"title": titles, "summary": summary, "source_language": "vi", "texts": texts or {},
                               "files": list(files)},
                     manifest_key=f"packages/{work.id}/1/manifest.json", manifest_sha256="0" * 64, **validity)
        session.add(pk)
        session.flush()
        for code in codes:
            session.add(PackageArea(package_id=pk.id, code=code))
    session.flush()
    return work
