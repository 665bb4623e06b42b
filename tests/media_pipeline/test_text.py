"""Vietnamese spoken-form normalisation and sentence splitting."""
from __future__ import annotations

import unicodedata
from pathlib import Path

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


CORPUS = Path(__file__).parent / "data" / "normalize_vi_corpus.tsv"


def corpus() -> list[tuple[str, str]]:
    """The hand-written cases: written form, then what the voice must read."""
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t")) for line in lines if line.strip() and not line.startswith("#")]


def test_the_corpus_has_at_least_300_cases():
    cases = corpus()
    assert len(cases) >= 300 and all(len(c) == 2 and c[1] for c in cases)
    assert len({w for w, _ in cases}) == len(cases)  # no case twice


@pytest.mark.parametrize("written,spoken", corpus())
def test_spoken_forms(written, spoken):
    assert normalize(written) == spoken


def test_any_unicode_form_reads_alike():
    for written, spoken in corpus()[::7]:
        assert normalize(unicodedata.normalize("NFD", written)) == spoken


def test_a_province_extends_and_overrides_the_rules():
    extra = {"abbreviations": {"BQL": "Ban quản lý dự án", "UBND": "Uỷ ban nhân dân"},
             "units": {"sào": "sào Bắc Bộ"}}
    assert normalize("BQL chợ và UBND, 3 sào", extra) == "Ban quản lý dự án chợ và Uỷ ban nhân dân, ba sào Bắc Bộ"
    assert normalize("BQL chợ và UBND") == "Ban quản lý chợ và Ủy ban nhân dân"  # the packaged rules alone
    assert "sào" not in load_rules()["units"]


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
