"""Vietnamese text as an announcer reads it aloud: what the voice is given instead of the written sentence.

Rules run in a fixed order, each on what the earlier ones left, so a form is claimed by the most specific rule
first: web links and e-mail addresses, document numbers (45/2024/NĐ-CP), telephone numbers (digit by digit, in
their groups), dates, month/year, ranges ("2-3 ngày" → "hai đến ba ngày"), negative numbers, times, Roman
numerals where the words before them call for one (thế kỷ XXI, quý II), ordinals, percentages, money and units
(also per unit: đồng/kg), codes mixing letters and digits (QL1A, H5N1), abbreviations, then every number left.
The word lists live in data/normalize_vi.json; a province adds its own (stored by the studio in the database)
through `extra`, whose entries win. Input in any Unicode form is composed (NFC) first.

Written by hand: no maintained Vietnamese text normaliser is on PyPI (the Vinorm and vietnam-number packages
cover numbers only, without the bulletin forms above, and are unmaintained).
"""
from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "normalize_vi.json"
DIGITS = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]
SCALES = ["", "nghìn", "triệu", "tỷ"]
SECTIONS = ("abbreviations", "document_types", "units", "currencies", "letters", "code_prefixes", "words")
L = "A-Za-zÀ-ỹĐđ"  # letters, Vietnamese included
ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
ROMAN_CONTEXT = r"thế kỷ|thế kỉ|khóa|khoá|quý|kỳ họp thứ|kì họp thứ|lần thứ|đại hội|phần|chương|mục|tập|quân khu|" \
                r"nhiệm kỳ|hạng|cấp|giai đoạn|thứ"
DATE_CONTEXT = r"ngày|mùng|hôm"
PHONE_CONTEXT = r"gọi|điện thoại|đt|sđt|hotline|đường dây nóng|tổng đài|liên hệ|fax|zalo"
FRACTION_CONTEXT = r"chiếm|khoảng|hơn|gần|còn|bằng|giảm|tăng|đạt|mất|được"


@lru_cache(maxsize=1)
def _packaged() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def load_rules(extra: dict | None = None) -> dict:
    """The packaged rules with `extra` (same sections) laid over them."""
    rules = {k: dict(v) for k, v in _packaged().items() if isinstance(v, dict)}
    for section, entries in (extra or {}).items():
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


def digits(s: str) -> str:
    """Each digit on its own: '0205' -> 'không hai không năm'."""
    return " ".join(DIGITS[int(c)] for c in s if c.isdigit())


def read_number(text: str) -> str:
    """'1.500.000' -> thousands grouped; '12,5' -> 'mười hai phẩy năm'; '4.0' -> 'bốn chấm không';
    a leading zero reads digit by digit ('05' -> 'không năm')."""
    text = text.strip()
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?", text):
        whole, _, frac = text.partition(",")
        out = number_to_words(int(whole.replace(".", "")))
        return out + (f" phẩy {_fraction(frac)}" if frac else "")
    if "," in text:
        whole, frac = text.split(",", 1)
        return f"{read_number(whole)} phẩy {_fraction(frac)}"
    if "." in text:
        parts = [p for p in text.split(".") if p]
        return " chấm ".join(read_number(p) for p in parts)
    if len(text) > 1 and text.startswith("0"):
        return digits(text)
    return number_to_words(int(text))


def _fraction(frac: str) -> str:
    return digits(frac) if frac.startswith("0") or len(frac) > 3 else number_to_words(int(frac))


def month(m: int) -> str:
    """The month's name as read: 'tư' for April."""
    return "tư" if m == 4 else number_to_words(m)


def ordinal(n: int) -> str:
    """After 'thứ': 'nhất', 'hai', 'ba', 'tư', 'năm'..."""
    return {1: "nhất", 4: "tư"}.get(n, number_to_words(n))


def roman(token: str) -> int | None:
    """The value of a well-formed Roman numeral up to 399, or None."""
    if not re.fullmatch(r"C{0,3}(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})", token) or not token:
        return None
    total = 0
    for a, b in zip(token, token[1:] + " "):
        v = ROMAN[a]
        total += -v if b != " " and ROMAN[b] > v else v
    return total


def spell(token: str, rules: dict) -> str:
    """Letter by letter with Vietnamese letter names: 'CSGT' -> 'xê ét gờ tê'."""
    letters = rules["letters"]
    return " ".join(letters.get(ch.upper(), ch) for ch in token if ch.isalnum())


def _alternation(words) -> str:
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


# ---- the rules, in order ----------------------------------------------------------------------------------

def _links(s: str, rules: dict) -> str:
    """Web links and e-mail addresses: names read as written, 'chấm', 'a còng', 'gạch chéo'."""
    words = rules.get("words", {})

    def part(p: str) -> str:
        if p.lower() in words:
            return words[p.lower()]
        if p.isdigit():
            return digits(p)
        if re.fullmatch(r"[a-zà-ỹđ]{2,}", p) and re.search(r"[aeiouyăâêôơưà-ỹ]", p) \
                and not re.search(r"[^aeiouyăâêôơưà-ỹ]{3}", re.sub("ngh|ng|nh|ch|th|tr|ph|kh|gh|gi|qu", "N", p)):
            return p  # a name that reads as written (langson, tin, tuc)
        return spell(p, rules)

    def say(m: re.Match) -> str:
        text = re.sub(r"^(?:https?://)", "", m.group(0), flags=re.I).rstrip("/")
        out = []
        for piece in re.split(r"([@./_:-])", text):
            if piece in {"@": 1, ".": 1, "/": 1, "_": 1, ":": 1, "-": 1}:
                out.append({"@": "a còng", ".": "chấm", "/": "gạch chéo", "_": "gạch dưới", ":": "hai chấm",
                            "-": "gạch ngang"}[piece])
            elif piece:
                out.append(part(piece))
        return " ".join(out)
    s = re.sub(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b", say, s)
    return re.sub(r"\b(?:https?://|www\.)[^\s,;()]+[^\s,;().]|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:gov|com|org|edu|net)"
                  r"(?:\.vn)?\b(?:/[^\s,;()]*[^\s,;().])?|\b[a-z0-9-]+\.vn\b", say, s)


def _documents(s: str, rules: dict) -> str:
    """Document numbers: 1014/TTr-STTTT, 45/2024/NĐ-CP, 12/QĐ-UBND."""
    table, abbreviations = rules["document_types"], rules["abbreviations"]

    def piece(p: str) -> str:
        if p in table:
            return table[p]
        if p in abbreviations:
            return abbreviations[p]
        return read_number(p) if p.isdigit() else spell(p, rules)

    def doc(m: re.Match) -> str:
        parts = m.group(0).split("/")
        tail = [" ".join(piece(x) for x in p.split("-") if x) for p in parts[1:]]
        return f"{read_number(parts[0])} trên " + " trên ".join(tail)
    return re.sub(rf"\b\d+(?:/\d{{4}})?/[{L}][{L}0-9&]*(?:-[{L}][{L}0-9&]*)*", doc, s)


def _phone_groups(number: str) -> str:
    groups = [g for g in re.split(r"[ .\-]", number.replace("+84", "+84 ")) if g]
    return ", ".join("cộng tám tư" if g == "+84" else digits(g) for g in groups)


def _phones(s: str) -> str:
    """Telephone numbers digit by digit, a pause between groups: 0205 3851 234, 0912.345.678, +84 912 345 678;
    short service numbers (113, 1900 1234) after words such as 'gọi' or 'đường dây nóng'."""
    def full(m: re.Match) -> str:
        n = sum(c.isdigit() for c in m.group(0))
        return _phone_groups(m.group(0)) if 9 <= n <= 12 else m.group(0)
    s = re.sub(r"(?<![\w.,])(?:\+84[ .]?|0)\d{1,4}(?:[ .\-]?\d{2,4}){1,4}(?![\w]|[.,]\d)", full, s)
    s = re.sub(rf"(?i)(\b(?:{PHONE_CONTEXT})(?:\s+(?:số|ngay|tới|đến|cho))?:?\s+)(\d{{3,11}}(?:[ .]\d{{3,4}})?)"
               r"(?![\w/%]|[.,]\d|\s*(?:lần|người|hộ|ngày|km|ki lô|đồng|triệu|tỷ|nghìn))",
               lambda m: m.group(1) + _phone_groups(m.group(2)), s)
    return re.sub(r"(?i)(\bsố:?\s+)(1[89]00\d{4,6}|\d{8,11})\b(?![.,]\d)",
                  lambda m: m.group(1) + _phone_groups(m.group(2)), s)


def _plates(s: str, rules: dict) -> str:
    """Vehicle plates: 29B-123.45 'hai mươi chín bê một hai ba bốn năm'."""
    return re.sub(r"\b(\d{2})([A-Z]{1,2})(\d?)-(\d{3})\.?(\d{2})\b",
                  lambda m: " ".join(x for x in (number_to_words(int(m.group(1))), spell(m.group(2), rules),
                                                 digits(m.group(3)), digits(m.group(4) + m.group(5))) if x), s)


def _date(lead: str | None, d: str, mo: str, y: str | None, whole: str) -> str:
    day, mon = int(d), int(mo)
    if not (1 <= day <= 31 and 1 <= mon <= 12):
        return whole
    out = f"{lead or 'ngày '}{number_to_words(day)} tháng {month(mon)}"
    return out + (f" năm {number_to_words(int(y))}" if y else "")


def _dates(s: str) -> str:
    """25/11/2026, 25-11-2026, 25.11.2026, 'ngày 25/11' (never 'ngày ngày'), 'tháng 10/2026', '10/2026'."""
    s = re.sub(rf"(?i)(\b(?:{FRACTION_CONTEXT})\s+)(\d{{1,2}})/(\d{{1,2}})\b(?![/.,]\d)",
               lambda m: f"{m.group(1)}{number_to_words(int(m.group(2)))} phần {number_to_words(int(m.group(3)))}", s)
    lead = rf"(?i:(\b(?:{DATE_CONTEXT})\s+))"
    s = re.sub(rf"{lead}?\b(\d{{1,2}})([/.-])(\d{{1,2}})\3(\d{{4}})\b",
               lambda m: _date(m.group(1), m.group(2), m.group(4), m.group(5), m.group(0)), s)
    s = re.sub(rf"{lead}(\d{{1,2}})[/.-](\d{{1,2}})\b(?![/.,]\d)",
               lambda m: _date(m.group(1), m.group(2), m.group(3), None, m.group(0)), s)
    s = re.sub(r"(?<![\d/.,])\b(\d{1,2})/(\d{1,2})\b(?![/.,]\d)",
               lambda m: _date(None, m.group(1), m.group(2), None, m.group(0)), s)
    s = re.sub(r"(?i)\b(tháng)\s+(\d{1,2})\s*[/.-]\s*(\d{4})\b",
               lambda m: f"{m.group(1)} {month(int(m.group(2)))} năm {number_to_words(int(m.group(3)))}"
               if 1 <= int(m.group(2)) <= 12 else m.group(0), s)
    return re.sub(r"(?<![\d/.,])\b(\d{1,2})/(\d{4})\b",
                  lambda m: f"tháng {month(int(m.group(1)))} năm {number_to_words(int(m.group(2)))}"
                  if 1 <= int(m.group(1)) <= 12 else m.group(0), s)


def _ranges(s: str) -> str:
    """'2-3 ngày', '2021 - 2025', '18-20°C', '7h-9h', '10–15%': the dash between two figures reads 'đến'."""
    return re.sub(r"(?<![\w/.,-])([-−]?\d+(?:[.,]\d+)*(?:h\d{0,2}|\s?°C|\s?%)?)\s*[-–—]\s*(?=[-−]?\d)",
                  r"\1 đến ", s)


def _negatives(s: str) -> str:
    """'-5°C', '−3%': a minus before a figure reads 'âm'."""
    return re.sub(r"(?<![\w.,)])[-−](?=\d)", "âm ", s)


def _times(s: str) -> str:
    """7h30, 07:30, 19 giờ 15, 7h: hours and minutes."""
    def clock(m: re.Match) -> str:
        h, mi = int(m.group(1)), m.group(2)
        if h > 24 or (mi and int(mi) > 59):
            return m.group(0)
        out = f"{number_to_words(h)} giờ"
        return out + (f" {number_to_words(int(mi))} phút" if mi and int(mi) else "")
    s = re.sub(r"\b(\d{1,2})(?:h|:|\s?giờ)(?:\s?(\d{2}))?\b(?!\s*phút)(?!:\d)", clock, s)
    return re.sub(r"\b(\d{1,2})h(?=\s|$|[,.;)])", lambda m: f"{number_to_words(int(m.group(1)))} giờ"
                  if int(m.group(1)) <= 24 else m.group(0), s)


def _romans(s: str) -> str:
    """Roman numerals where the words before them call for a number: thế kỷ XXI, quý II, lần thứ XIII."""
    def say(m: re.Match) -> str:
        n = roman(m.group(2))
        if n is None or not m.group(2).isupper():
            return m.group(0)
        word = m.group(1).split()[-1].lower()
        year = f" năm {number_to_words(int(m.group(3)))}" if m.group(3) else ""
        return f"{m.group(1)} {ordinal(n) if word == 'thứ' else number_to_words(n)}{year}"
    return re.sub(rf"(?i)\b({ROMAN_CONTEXT})\s+([IVXLC]+)(?:/(\d{{4}}))?\b(?![{L}])", say, s)


def _ordinals(s: str) -> str:
    """'thứ 1' reads 'thứ nhất', 'thứ 4' 'thứ tư' (weekdays and ranks alike)."""
    return re.sub(r"(?i)\b(thứ)\s+(\d{1,3})\b(?![.,]\d)", lambda m: f"{m.group(1)} {ordinal(int(m.group(2)))}", s)


def _amounts(s: str, rules: dict) -> str:
    """Percentages, money and units after a figure, 'per' forms (đồng/kg: 'đồng một ki lô gam', km/h:
    'ki lô mét trên giờ'), and currency codes on their own."""
    currencies, units = rules["currencies"], rules["units"]
    cur, unit = _alternation(currencies), _alternation(units)
    number = r"\d+(?:[.,]\d+)*"
    s = re.sub(rf"(?<![^\d\s])({cur})\s?/\s?({unit}|[{L}]+)(?![\w])",
               lambda m: f"{currencies[m.group(1)]} một {units.get(m.group(2), m.group(2))}", s)
    compound = _alternation(u for u in units if "/" in u)
    s = re.sub(rf"(?<![\w/])({compound})(?![\w/])", lambda m: units[m.group(0)], s) if compound else s
    s = re.sub(rf"(?<![\w/])({unit})/({unit})(?![\w/])", lambda m: f"{units[m.group(1)]} trên {units[m.group(2)]}", s)
    s = re.sub(rf"({number})\s?%", lambda m: f"{read_number(m.group(1))} phần trăm", s)
    s = re.sub(rf"({number})\s?({cur})(?![\w])", lambda m: f"{read_number(m.group(1))} {currencies[m.group(2)]}", s)
    s = re.sub(rf"({number})\s?({unit})(?![\w/])", lambda m: f"{read_number(m.group(1))} {units[m.group(2)]}", s)
    codes = {k: v for k, v in currencies.items() if k.isupper() and len(k) >= 3}
    if codes:
        s = re.sub(rf"(?<![\w])({_alternation(codes)})(?![\w])", lambda m: codes[m.group(1)], s)
    return s


def _codes(s: str, rules: dict) -> str:
    """Codes mixing letters and digits read piece by piece: QL1A 'quốc lộ một a', 12B 'mười hai bê',
    5G 'năm gờ', H5N1 'hát năm en một', COVID-19 'cô vít mười chín'."""
    prefixes, abbreviations = rules.get("code_prefixes", {}), rules["abbreviations"]

    def say(m: re.Match) -> str:
        out = []
        for i, piece in enumerate(re.findall(rf"[{L}]+|\d+", m.group(0))):
            if piece.isdigit():
                out.append(read_number(piece))
            elif i == 0 and piece in prefixes:
                out.append(prefixes[piece])
            elif piece in abbreviations:
                out.append(abbreviations[piece])
            else:
                out.append(spell(piece, rules))
        return " ".join(out)
    s = re.sub(rf"(?<![\w.,])(?:[{L}]+-\d+)(?![\w])", say, s)  # COVID-19, SARS-2
    return re.sub(rf"(?<![\w.,])(?=[{L}]*\d)(?=\d*[{L}])[{L}\d]+(?![\w])", say, s)


def _abbreviations(s: str, rules: dict) -> str:
    """Whole tokens from the table (longest first); other capitals without a vowel are spelt (CSGT, BCH)."""
    table = rules["abbreviations"]
    for abbr in sorted(table, key=len, reverse=True):
        pattern = rf"(?<![\w]){re.escape(abbr)}" + ("" if abbr.endswith(".") else r"(?![\w])")
        s = re.sub(pattern, table[abbr] + (" " if abbr.endswith(".") else ""), s)
    return re.sub(r"(?<![\w])[BCDĐFGHJKLMNPQRSTVWXZ]{2,6}(?![\w])", lambda m: spell(m.group(0), rules), s)


def _letters(s: str, rules: dict) -> str:
    """A capital letter standing alone reads as its name: 'cúm A' 'cúm a', 'khu B' 'khu bê'."""
    return re.sub(r"(?<![\w.°])[A-Z](?![\w]|\.\w)", lambda m: spell(m.group(0), rules), s)


def _symbols(s: str) -> str:
    """What is left between words: '&' 'và', '/' 'trên', '+' 'cộng', a dash between words a pause."""
    s = re.sub(r"\s*&\s*", " và ", s)
    s = re.sub(r"(?<=\w)\s*/\s*(?=\w)", " trên ", s)
    s = re.sub(r"(?<=\s)\+(?=\s)|(?<=\d)\+(?=\d)", " cộng ", s)
    return s


def normalize(text: str, extra: dict | None = None) -> str:
    """Rewrite written forms as spoken Vietnamese words (see the module's docstring for the order)."""
    rules = load_rules(extra)
    s = unicodedata.normalize("NFC", text)
    s = _links(s, rules)
    s = _documents(s, rules)
    s = _plates(s, rules)
    s = _phones(s)
    s = _dates(s)
    s = _ranges(s)
    s = _negatives(s)
    s = _times(s)
    s = _romans(s)
    s = _ordinals(s)
    s = _amounts(s, rules)
    s = _codes(s, rules)
    s = _letters(s, rules)
    s = _abbreviations(s, rules)
    s = _symbols(s)
    s = re.sub(r"\d+(?:\.\d{3})+(?:,\d+)?|\d+(?:[.,]\d+)*", lambda m: read_number(m.group(0)), s)
    return re.sub(r"[ \t]{2,}", " ", s).strip()
