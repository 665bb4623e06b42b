"""Vietnamese spoken-form normalisation and sentence splitting."""
from __future__ import annotations

import json

import pytest

from media_pipeline.text.normalize_vi import load_rules, normalize, number_to_words
from media_pipeline.text.sentences import split_sentences


@pytest.mark.parametrize("n,words", [
    (0, "không"), (5, "năm"), (10, "mười"), (15, "mười lăm"), (21, "hai mươi mốt"), (24, "hai mươi tư"),
    (105, "một trăm linh năm"), (110, "một trăm mười"), (1005, "một nghìn không trăm linh năm"),
    (2024, "hai nghìn không trăm hai mươi tư"), (1_500_000, "một triệu năm trăm nghìn"),
    (3_000_000_000, "ba tỷ"),
])
def test_numbers(n, words):
    assert number_to_words(n) == words


@pytest.mark.parametrize("written,spoken", [
    ("ngày 25/11/2024", "ngày hai mươi lăm tháng mười một năm hai nghìn không trăm hai mươi tư"),
    ("từ 1/4", "từ ngày một tháng tư"),
    ("lúc 7h30", "lúc bảy giờ ba mươi phút"),
    ("lúc 14:05", "lúc mười bốn giờ năm phút"),
    ("1.500.000 đồng", "một triệu năm trăm nghìn đồng"),
    ("200.000đ", "hai trăm nghìn đồng"),
    ("tăng 12,5%", "tăng mười hai phẩy năm phần trăm"),
    ("Tờ trình số 1014/TTr-STTTT", "Tờ trình số một nghìn không trăm mười bốn trên tờ trình Sở Thông tin và "
                                    "Truyền thông"),
    ("Nghị định 45/2024/NĐ-CP", "Nghị định bốn mươi lăm trên hai nghìn không trăm hai mươi tư trên nghị định "
                                "Chính phủ"),
    ("UBND và HĐND xã", "Ủy ban nhân dân và Hội đồng nhân dân xã"),
    ("TP. Lạng Sơn", "thành phố Lạng Sơn"),
    ("gọi 0912 345 678", "gọi không chín một hai ba bốn năm sáu bảy tám"),
    ("mưa 120mm", "mưa một trăm hai mươi mi li mét"),
])
def test_spoken_forms(written, spoken):
    assert normalize(written) == spoken


def test_editors_extend_the_rules_with_an_instance_file(tmp_path):
    extra = tmp_path / "normalize_vi.json"
    extra.write_text(json.dumps({"abbreviations": {"BQL": "Ban quản lý", "UBND": "Uỷ ban nhân dân"}}),
                     encoding="utf-8")
    load_rules.cache_clear()
    assert normalize("BQL chợ và UBND", str(extra)) == "Ban quản lý chợ và Uỷ ban nhân dân"
    assert normalize("BQL chợ") == "BQL chợ"  # without the file the packaged rules apply


def test_sentences_keep_abbreviations_and_numbers_together():
    text = "UBND TP. Lạng Sơn thông báo. Kinh phí 1.500.000 đồng! Có hỏi không?\n- Mục một\n中国人民。你好！"
    assert split_sentences(text) == ["UBND TP. Lạng Sơn thông báo.", "Kinh phí 1.500.000 đồng!", "Có hỏi không?",
                                     "Mục một", "中国人民。", "你好！"]


def test_long_sentence_breaks_at_commas():
    long = ", ".join(["người dân chú ý phòng chống bão"] * 30) + "."
    parts = split_sentences(long, max_chars=120)
    assert len(parts) > 5 and all(len(p) <= 120 for p in parts)
    assert " ".join(parts).replace(" ,", ",") .count("bão") == 30


def test_numbered_headings_stay_one_sentence():
    assert split_sentences("Chương 1. Bão và lũ quét") == ["Chương 1. Bão và lũ quét"]
    assert split_sentences("Điều 3. Phạm vi điều chỉnh. Luật này quy định.") == [
        "Điều 3. Phạm vi điều chỉnh.", "Luật này quy định."]
