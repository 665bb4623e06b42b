"""Merge studio/translations/vi_strings.py into the Vietnamese catalogue and list what is still missing."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "studio" / "translations" / "vi" / "LC_MESSAGES" / "messages.po"


def main() -> int:
    vi = runpy.run_path(str(ROOT / "studio" / "translations" / "vi_strings.py"))["VI"]
    with open(PO, "rb") as f:
        catalog = read_po(f, locale="vi")
    missing = []
    for msg in catalog:
        if not msg.id:
            continue
        if msg.id in vi:
            msg.string = vi[msg.id]
            msg.flags.discard("fuzzy")
        elif not msg.string:
            missing.append(msg.id)
    with open(PO, "wb") as f:
        write_po(f, catalog, width=100)
    for m in missing:
        print(f"untranslated: {m!r}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
