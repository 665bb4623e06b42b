"""Where each sentence lies in a human recording, for captions that follow the speaker.

A boundary between two sentences is first estimated, from Whisper's word timings when the language is one
Whisper knows (the written sentences are matched to the heard words character by character, so a misheard
word moves the estimate little), else from the sentences' lengths in syllables, shared out over the time left
after the boundary before. It is then moved to the recording's pause nearest to it, since speakers pause
between sentences; a boundary with no pause near it keeps its estimate.
"""
from __future__ import annotations

import difflib
import math
import re
import unicodedata

from media_pipeline.audio import Cue

PAUSE_WEIGHT = 1.0     # per second of pause (up to 0.6 s): sentence ends tend to be the longer pauses
WORD_SIGMA_S = 0.3     # how far from Whisper's estimate a boundary may lie at the cost of one unit


def _chars(text: str) -> str:
    """Letters and digits only, lower case: what a written sentence and a heard word have in common."""
    return "".join(c for c in unicodedata.normalize("NFC", text.lower()) if c.isalnum())


def syllables(sentence: str) -> int:
    """Spoken length in syllables: a word of a Latin-script language written syllable by syllable (Vietnamese,
    Tày, Nùng, H'Mông, Dao), each Han character; speech time follows it more closely than letters do."""
    han = len(re.findall(r"[\u3400-\u9fff\uf900-\ufaff]", sentence))
    words = len(re.findall(r"[^\W\d_]+|\d+", re.sub(r"[\u3400-\u9fff\uf900-\ufaff]", " ", sentence)))
    return max(1, han + words)


def _estimates_by_words(sentences: list[str], words: list[Cue]) -> list[float]:
    """Each boundary's time from the heard words: the written text's character offsets mapped onto the heard
    text's by difflib's matching blocks."""
    written = [_chars(s) for s in sentences]
    ref = "".join(written)
    owner, hyp = [], []  # for each heard character, the word it belongs to
    for i, w in enumerate(words):
        for c in _chars(w.text):
            hyp.append(c)
            owner.append(i)
    blocks = difflib.SequenceMatcher(None, ref, "".join(hyp), autojunk=False).get_matching_blocks()
    out, offset = [], 0
    for text in written[:-1]:
        offset += len(text)
        # the heard position of the last written character of the sentence: from the nearest block before it
        pos = None
        for a, b, size in blocks:
            if size and a < offset:
                pos = b + min(offset - a, size) - 1
        if pos is None or not owner:
            out.append(None)
            continue
        j = owner[min(pos, len(owner) - 1)]
        after = words[j + 1].start if j + 1 < len(words) else words[j].end
        out.append((words[j].end + after) / 2)
    return out


def sentences_to_recording(sentences: list[str], total: float, pauses: list[tuple[float, float]],
                           words: list[Cue] | None = None) -> list[Cue]:
    """Cues for the sentences over a recording of `total` seconds (see the module's docstring).

    The pauses that end sentences are chosen together (dynamic programming over the recording's pauses): each
    sentence should last about its syllables at the recording's mean rate, a longer pause is likelier a
    sentence's end than a breath inside one, and where Whisper heard the words, a boundary should lie where
    the words say. A recording with fewer pauses than boundaries gets the estimates alone.
    """
    if not sentences:
        return []
    n = len(sentences)
    if n == 1:
        return [Cue(0.0, round(total, 3), sentences[0])]
    heard = _estimates_by_words(sentences, words) if words else [None] * (n - 1)
    syl = [syllables(x) for x in sentences]
    rate = sum(syl) / max(total, 1e-3)  # syllables per second, pauses included
    inner = sorted(p for p in pauses if 0 < p[0] and p[1] < total)
    if len(inner) < n - 1:
        return _from_estimates(sentences, total, heard, syl)

    def span_cost(i: int, start: float, end: float) -> float:
        expected = syl[i] / rate
        return math.log(max(end - start, 0.05) / expected) ** 2

    def pause_cost(i: int, p: tuple[float, float]) -> float:
        cost = -PAUSE_WEIGHT * min(p[1] - p[0], 0.6)
        if heard[i] is not None:
            cost += ((p[0] + p[1]) / 2 - heard[i]) ** 2 / WORD_SIGMA_S ** 2
        return cost

    # best[i][k]: cost of sentences 0..i with sentence i ending at pause k
    inf = float("inf")
    best = [[inf] * len(inner) for _ in range(n - 1)]
    back = [[-1] * len(inner) for _ in range(n - 1)]
    for k, p in enumerate(inner):
        best[0][k] = span_cost(0, 0.0, p[0]) + pause_cost(0, p)
    for i in range(1, n - 1):
        for k, p in enumerate(inner):
            if k < i:
                continue
            options = [(best[i - 1][j] + span_cost(i, inner[j][1], p[0]), j) for j in range(i - 1, k)
                       if best[i - 1][j] < inf and p[0] - inner[j][1] < 4 * syl[i] / rate + 1]
            if options:
                cost, j = min(options)
                best[i][k], back[i][k] = cost + pause_cost(i, p), j
    finals = [(best[n - 2][k] + span_cost(n - 1, p[1], total), k) for k, p in enumerate(inner)
              if best[n - 2][k] < inf]
    if not finals:
        return _from_estimates(sentences, total, heard, syl)
    k = min(finals)[1]
    chosen = []
    for i in range(n - 2, -1, -1):
        chosen.append(inner[k])
        k = back[i][k]
    chosen.reverse()
    starts = [0.0] + [p[1] for p in chosen]
    ends = [p[0] for p in chosen] + [total]
    return [Cue(round(a, 3), round(max(a, b), 3), s) for a, b, s in zip(starts, ends, sentences)]


def _from_estimates(sentences: list[str], total: float, heard: list[float | None], syl: list[int]) -> list[Cue]:
    """Boundaries at the heard estimates, else shared out by syllables over the time left."""
    cuts, last = [], 0.0
    for i, h in enumerate(heard):
        t = max(last, h if h is not None else last + (total - last) * syl[i] / sum(syl[i:]))
        cuts.append(t)
        last = t
    edges = [0.0] + cuts + [total]
    return [Cue(round(a, 3), round(b, 3), s) for a, b, s in zip(edges, edges[1:], sentences)]


def boundaries(cues: list[Cue]) -> list[float]:
    """The times between consecutive cues (the middle of each gap): for comparing alignments."""
    return [round((a.end + b.start) / 2, 3) for a, b in zip(cues, cues[1:])]


__all__ = ["sentences_to_recording", "boundaries"]
