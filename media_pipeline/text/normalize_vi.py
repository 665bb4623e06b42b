"""Vietnamese text as an announcer reads it: numbers, dates, times, money, percentages, document numbers,
abbreviations. Rules live in data/normalize_vi.json, extended by an instance file."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "normalize_vi.json"
DIGITS = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]
SCALES = ["", "nghìn", "triệu", "tỷ"]


def load_rules(extra_file: str | None = None) -> dict:
    """The packaged rules merged with an optional instance file (re-read when the file changes)."""
    try:
        mtime = Path(extra_file).stat().st_mtime_ns if extra_file else 0
    except OSError:
        mtime = 0
    return _load_rules(extra_file, mtime)


load_rules.cache_clear = lambda: _load_rules.cache_clear()  # type: ignore[attr-defined]


@lru_cache(maxsize=8)
def _load_rules(extra_file: str | None, _mtime: int) -> dict:
    rules = json.loads(DATA.read_text(encoding="utf-8"))
    if extra_file and Path(extra_file).exists():
        extra = json.loads(Path(extra_file).read_text(encoding="utf-8"))
        for section, entries in extra.items():
            if isinstance(entries, dict):
                rules.setdefault(section, {}).update(entries)
    return rules


def _triple(n: int, full: bool) -> list[str]:
    """Read 0..999; `full` when a higher group precedes (so 5 reads 'không trăm linh năm')."""
    h, t, u = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if h or full:
        words += [DIGITS[h], "trăm"]
    if t == 0:
        if u:
            if h or full:
                words.append("linh")
            words.append(DIGITS[u])
    elif t == 1:
        words.append("mười")
        if u:
            words.append("lăm" if u == 5 else DIGITS[u])
    else:
        words += [DIGITS[t], "mươi"]
        if u:
            words.append({1: "mốt", 4: "tư", 5: "lăm"}.get(u, DIGITS[u]))
    return words


def number_to_words(n: int) -> str:
    """1014 -> 'một nghìn không trăm mười bốn'; works for any size (tỷ repeats)."""
    if n < 0:
        return "âm " + number_to_words(-n)
    if n == 0:
        return "không"
    if n >= 10**12:
        high, low = divmod(n, 10**9)
        rest = number_to_words(low) if low else ""
        if low and low < 10**8:
            rest = "không trăm triệu " + rest if low < 10**6 else rest
        return f"{number_to_words(high)} tỷ" + (f" {rest}" if rest else "")
    groups = []
    while n:
        n, g = divmod(n, 1000)
        groups.append(g)
    words: list[str] = []
    top = len(groups) - 1
    for i in range(top, -1, -1):
        g = groups[i]
        if g == 0:
            continue
        words += _triple(g, full=i < top)
        if SCALES[i]:
            words.append(SCALES[i])
    return " ".join(words)


def _digits_one_by_one(s: str) -> str:
    return " ".join(DIGITS[int(c)] for c in s if c.isdigit())


def read_number(text: str) -> str:
    """'1.500.000' -> grouped thousands; '12,5' -> 'mười hai phẩy năm'; leading zeros read digit by digit."""
    text = text.strip()
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", text):
        return number_to_words(int(text.replace(".", "")))
    if "," in text:
        whole, frac = text.split(",", 1)
        frac_words = number_to_words(int(frac)) if not frac.startswith("0") else _digits_one_by_one(frac)
        return f"{read_number(whole)} phẩy {frac_words}"
    if len(text) > 1 and text.startswith("0"):
        return _digits_one_by_one(text)
    return number_to_words(int(text))


def _month(m: int) -> str:
    return "tư" if m == 4 else number_to_words(m)


def _spell(token: str, rules: dict) -> str:
    letters = rules["letters"]
    return " ".join(letters.get(ch.upper(), ch) for ch in token if ch.isalnum())


def _doc_part(part: str, rules: dict) -> str:
    table = rules["document_types"]
    if part in table:
        return table[part]
    if part in rules["abbreviations"]:
        return rules["abbreviations"][part]
    if part.isdigit():
        return read_number(part)
    return _spell(part, rules)


def normalize(text: str, extra_rules_file: str | None = None) -> str:
    """Rewrite written forms as spoken Vietnamese words."""
    rules = load_rules(extra_rules_file)
    s = text

    # Document numbers: 1014/TTr-STTTT, 45/2024/NĐ-CP, 12/QĐ-UBND
    def doc(m: re.Match) -> str:
        parts = m.group(0).split("/")
        head = read_number(parts[0])
        tail = []
        for p in parts[1:]:
            tail.append(" ".join(_doc_part(x, rules) for x in p.split("-") if x))
        return f"{head} trên " + " trên ".join(tail)
    s = re.sub(r"\b\d+(?:/\d{4})?/[A-Za-zĐđ][A-Za-zĐđ0-9&]*(?:-[A-Za-zĐđ][A-Za-zĐđ0-9&]*)*", doc, s)

    # Dates: 25/11/2024, 25-11-2024, 25/11
    def date(m: re.Match) -> str:
        d, mo, y = int(m.group(2)), int(m.group(3)), m.group(4)
        if not (1 <= d <= 31 and 1 <= mo <= 12):
            return m.group(0)
        out = f"{m.group(1) or 'ngày '}{number_to_words(d)} tháng {_month(mo)}"
        return out + (f" năm {number_to_words(int(y))}" if y else "")
    s = re.sub(r"((?:[Nn]gày|[Mm]ùng)\s+)?\b(\d{1,2})[/-](\d{1,2})(?:[/-](\d{4}))?\b", date, s)
    # Month/year: tháng 11/2024
    s = re.sub(r"\btháng (\d{1,2})/(\d{4})\b",
               lambda m: f"tháng {_month(int(m.group(1)))} năm {number_to_words(int(m.group(2)))}", s)

    # Times: 7h30, 07:30, 19 giờ 15
    def clock(m: re.Match) -> str:
        h, mi = int(m.group(1)), m.group(2)
        if h > 24 or (mi and int(mi) > 59):
            return m.group(0)
        out = f"{number_to_words(h)} giờ"
        return out + (f" {number_to_words(int(mi))} phút" if mi and int(mi) else "")
    s = re.sub(r"\b(\d{1,2})(?:h|:|giờ\s?)(\d{2})?\b(?!\s*phút)", clock, s)

    # Percentages and money
    s = re.sub(r"(\d[\d.,]*)\s?%", lambda m: f"{read_number(m.group(1))} phần trăm", s)
    cur = "|".join(sorted((re.escape(c) for c in rules["currencies"]), key=len, reverse=True))
    s = re.sub(rf"(\d[\d.,]*)\s?({cur})(?![\w])",
               lambda m: f"{read_number(m.group(1))} {rules['currencies'][m.group(2)]}", s)
    units = "|".join(sorted((re.escape(u) for u in rules["units"]), key=len, reverse=True))
    s = re.sub(rf"(\d[\d.,]*)\s?({units})(?![\w/])",
               lambda m: f"{read_number(m.group(1))} {rules['units'][m.group(2)]}", s)

    # Abbreviations (longest first, whole tokens only)
    for abbr in sorted(rules["abbreviations"], key=len, reverse=True):
        pattern = rf"(?<![\w]){re.escape(abbr)}" + ("" if abbr.endswith(".") else r"(?![\w])")
        s = re.sub(pattern, rules["abbreviations"][abbr] + (" " if abbr.endswith(".") else ""), s)

    # Phone-like digit runs (0912 345 678) read digit by digit; other numbers as quantities.
    s = re.sub(r"\b0\d{2,3}(?:[ .]\d{3}){2,}\b", lambda m: _digits_one_by_one(m.group(0)), s)
    s = re.sub(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?", lambda m: read_number(m.group(0)), s)
    return re.sub(r"[ \t]{2,}", " ", s).strip()
