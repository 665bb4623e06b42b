"""Translation memory: exact and ranked fuzzy matches, TMX 1.4 round trip, broken XML refused with its line."""
from __future__ import annotations

import io

import pytest

from storage.models import User
from studio.errors import ValidationError
from studio.services import Caller, memory

TMX = """<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4">
  <header creationtool="x" creationtoolversion="1" datatype="plaintext" segtype="sentence" adminlang="en"
          srclang="vi" o-tmf="x"/>
  <body>
    <tu><tuv xml:lang="vi"><seg>Người dân mang theo thẻ bảo hiểm y tế.</seg></tuv>
        <tuv xml:lang="tay"><seg>Pỉ noọng au bài bảo hiểm y tế pây.</seg></tuv></tu>
    <tu><tuv xml:lang="vi"><seg>Xin chào bà con.</seg></tuv>
        <tuv xml:lang="tay"><seg>Slao cỏ bà con.</seg></tuv>
        <tuv xml:lang="en"><seg>Hello, everyone.</seg></tuv></tu>
  </body>
</tmx>
"""


@pytest.fixture
def translator(app, users):
    from studio.extensions import db
    with app.app_context():
        yield db.session, Caller(db.session.get(User, users["translator"]))


def test_exact_match_first_then_fuzzy_ranked(translator):
    session, _ = translator
    memory.add(session, "vi", "en", "Người dân mang theo thẻ bảo hiểm y tế.", "Bring your health insurance card.")
    memory.add(session, "vi", "en", "Người dân mang theo sổ tiêm chủng.", "Bring your vaccination book.")
    memory.add(session, "vi", "en", "Trời mưa to.", "Heavy rain.")
    assert memory.add(session, "vi", "en", "Trời mưa to.", "Heavy rain.") is None  # no duplicates
    session.commit()
    exact = memory.lookup(session, "vi", "en", "người dân mang theo  thẻ bảo hiểm y tế.")
    assert exact[0].score == 1.0 and exact[0].target == "Bring your health insurance card."
    fuzzy = memory.lookup(session, "vi", "en", "Người dân mang theo thẻ bảo hiểm xã hội.")
    assert [m.target for m in fuzzy][:2] == ["Bring your health insurance card.", "Bring your vaccination book."]
    assert 0.5 <= fuzzy[1].score < fuzzy[0].score < 1.0  # shares of tokens in common
    assert memory.lookup(session, "vi", "zh", "Trời mưa to.") == []  # other pair
    assert memory.lookup(session, "vi", "en", "Hoàn toàn khác biệt, không liên quan gì cả.") == []


def test_tmx_import_export_round_trip(translator):
    session, caller = translator
    added = memory.import_tmx(session, caller, io.BytesIO(TMX.encode()), "vi", "tay")
    session.commit()
    assert added == 2
    assert memory.import_tmx(session, caller, io.BytesIO(TMX.encode()), "vi", "tay") == 0  # already there
    assert memory.lookup(session, "vi", "tay", "Xin chào bà con.")[0].target == "Slao cỏ bà con."
    exported = memory.export_tmx(session, "vi", "tay")
    assert b'version="1.4"' in exported and b'srclang="vi"' in exported
    again = memory.import_tmx(session, caller, io.BytesIO(exported), "vi", "en")
    assert again == 0  # the export holds vi and tay only
    from sqlalchemy import delete

    from storage.models import MemoryUnit
    session.execute(delete(MemoryUnit))
    assert memory.import_tmx(session, caller, io.BytesIO(exported), "vi", "tay") == 2


def test_broken_tmx_is_refused_with_its_line_and_adds_nothing(translator):
    session, caller = translator
    broken = TMX.replace("</tu>\n    <tu>", "</tuv>\n    <tu>", 1)
    with pytest.raises(ValidationError) as err:
        memory.import_tmx(session, caller, io.BytesIO(broken.encode()), "vi", "tay")
    assert err.value.params["line"] == 7  # the line of the mismatched tag
    assert memory.lookup(session, "vi", "tay", "Xin chào bà con.") == []
    bomb = ('<?xml version="1.0"?><!DOCTYPE tmx [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            '<tmx version="1.4"><body><tu><tuv xml:lang="vi"><seg>&b;</seg></tuv></tu></body></tmx>')
    with pytest.raises(ValidationError, match="refused for safety"):
        memory.import_tmx(session, caller, io.BytesIO(bomb.encode()), "vi", "tay")
    with pytest.raises(ValidationError, match="not a TMX"):
        memory.import_tmx(session, caller, io.BytesIO(b"<html><body/></html>"), "vi", "tay")


def test_batch_best_matches_follow_new_units_and_another_database(translator):
    """`best` compares a work's sentences with the whole memory at once; units added later are found, a unit of
    another pair never is, and the encoded memory kept per process is the database's, not a stale copy."""
    session, _ = translator
    memory.add(session, "vi", "en", "Trời mưa to ở vùng núi phía bắc.", "Heavy rain in the northern mountains.")
    session.commit()
    texts = ["Trời mưa to ở vùng núi phía bắc.", "Trời mưa rất to ở vùng núi phía bắc.", "Lúa đã chín.", ""]
    got = memory.best(session, "vi", "en", texts, 0.85)
    assert got[0].score == 1.0 and got[0].target == "Heavy rain in the northern mountains."
    # Nine tokens (eight words and the full stop) against ten: 2*9/(9+10) = 0.947.
    assert got[1].score == 0.947 and got[1].target == "Heavy rain in the northern mountains."
    assert got[2] is None and got[3] is None
    memory.add(session, "vi", "en", "Lúa đã chín vàng.", "The rice is ripe.")
    memory.add(session, "vi", "zh", "Lúa đã chín.", "稻子熟了。")
    session.commit()
    got = memory.best(session, "vi", "en", texts, 0.85)
    assert got[2].target == "The rice is ripe." and got[2].score == 0.889  # 2*4/(4+5) tokens
    assert memory.best(session, "vi", "zh", ["Lúa đã chín."], 0.85)[0].target == "稻子熟了。"
    # Chinese sources are compared character by character.
    memory.add(session, "zh", "vi", "今天下大雨。", "Hôm nay mưa to.")
    session.commit()
    assert memory.best(session, "zh", "vi", ["今天下中雨。"], 0.8)[0].score == 0.833  # 5 of 6 characters
    # Emptied and refilled with other units under the same ids: the cached copy is not trusted.
    session.query(memory.MemoryUnit).delete()
    session.commit()
    assert memory.best(session, "vi", "en", texts, 0.85) == [None] * 4
