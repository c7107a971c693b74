"""The service catalog's search index: character bigrams, BM25F over weighted fields, synonyms.

Chinese has no spaces between words, so text is cut into overlapping character pairs
(長照服務 → 長照, 照服, 服務); a run of a single character is kept whole. Latin text is cut into
lower-case words with a light suffix stripping, so English questions find ``name_en`` and
English keywords. Scores are BM25F: each field's term frequency is weighted and length
normalised, then saturated once per term. Synonyms add their terms to the question at a
lower weight; filler words (請問, 怎麼, 嗎…) are taken out first.

Whether the best item answers the question at all is a separate number, the *confidence*:
how much of the question the item explains (each character weighted by how rare it is in the
catalog; characters the catalog has never seen weigh heavily against it) times how strong its
score is. So 「我的包裹在哪裡」 finds nothing rather than whatever mentions 哪裡.

Pure Python, no Flask and no database: the web layer builds one index per catalog version.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

K1 = 1.2
B = 0.75
FIELD_WEIGHTS = {
    "name": 4.0,
    "name_en": 3.0,
    "keywords": 2.5,
    "category": 1.0,
    "agency": 0.8,
    "description": 1.0,
    "documents": 0.4,
}
#: Fields whose words are chosen to name the service: a match there explains a question fully.
NAMING_FIELDS = ("name", "name_en", "keywords", "category")
#: Weight of a term that only a synonym brought into the question.
SYNONYM_WEIGHT = 0.8
#: How much a match only in the description, documents or agency explains (a name match is 1).
INCIDENTAL_CREDIT = 0.5
#: Weight of a character of the question that no catalog term contains (a lone one: ``LONE_WEIGHT``).
UNKNOWN_WEIGHT = 3.0
LONE_WEIGHT = 0.5
#: A best score this high is strong evidence; a lower one scales the confidence down.
FULL_SCORE = 6.0
#: Below this confidence the assistant says it has no good answer.
CONFIDENCE_THRESHOLD = 0.25
#: Items scoring less than this share of the best one are not offered beside it.
RELATIVE_CUTOFF = 0.3

#: Words of a question that say nothing about which service is meant (longest first when used).
FILLERS = (
    "請問一下", "請問", "想請問", "我想要", "我想", "我要", "我們", "你們", "您好", "你好", "哈囉", "謝謝",
    "怎麼辦理", "怎麼申請", "如何申請", "怎樣申請", "要怎麼", "該怎麼", "怎麼辦", "怎麼", "如何", "怎樣",
    "要準備什麼", "需要準備", "要準備", "準備什麼", "需要什麼", "要帶什麼", "帶什麼", "有什麼", "什麼", "甚麼",
    "在哪裡", "去哪裡", "哪裡", "那裡", "哪邊", "哪個", "哪些", "哪一家", "在哪", "去哪", "可以", "可不可以",
    "能不能", "是不是", "有沒有", "需要", "應該", "家裡", "家中", "我家", "幫忙", "一下", "相關", "資訊",
    "問題", "這個", "那個", "好像", "已經", "目前", "現在", "請幫我", "幫我",
    "嗎", "呢", "吧", "啊", "喔", "耶", "的", "了", "我", "你", "您", "要", "想", "跟", "和",
)
ENGLISH_STOPWORDS = frozenset(
    "a an the i im i'm me my we our you your to for of in on at by with and or is are am be been do does "
    "did can could would should will how what where when which who why there here this that it its "
    "want need please get got help about from as if any some have has had just like".split())

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN_RUN = re.compile(rf"[{_CJK}]+|[a-z0-9]+(?:'[a-z]+)?")
_IS_CJK = re.compile(rf"[{_CJK}]")
_VARIANTS = str.maketrans({"台": "臺", "着": "著", "裏": "裡", "綫": "線", "衞": "衛", "峯": "峰"})
_DIGITS = {"一": 1, "二": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_AGE = re.compile(r"[一二兩三四五六七八九十]{1,3}(?=歲)")


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), lower case, 台 → 臺 and other common variants unified,
    and ages in Chinese numerals written in digits (十四歲 → 14歲), as the catalog writes them."""
    text = unicodedata.normalize("NFKC", text or "").lower().translate(_VARIANTS)
    return _AGE.sub(lambda m: _chinese_number(m.group()), text)


def _chinese_number(text: str) -> str:
    """十四 → 14, 六十五 → 65, 七 → 7; anything else is returned unchanged."""
    tens, _, units = text.rpartition("十")
    if "十" in tens or (tens and tens not in _DIGITS) or (units and units not in _DIGITS):
        return text
    if "十" not in text:
        return str(_DIGITS[text]) if len(text) == 1 else text
    return str((_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[units] if units else 0))


def stem(word: str) -> str:
    """A light English stemmer: permits → permit, applying → apply, licences → licence."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    return word


@dataclass(frozen=True)
class Span:
    """A term of a question and the characters (or words) of the question it came from."""

    term: str
    start: int
    end: int


def spans(text: str, *, drop_stopwords: bool = False) -> list[Span]:
    """Terms of already normalised text with their positions: CJK bigrams, single CJK characters, words."""
    found: list[Span] = []
    for run in _TOKEN_RUN.finditer(text):
        value, start = run.group(), run.start()
        if _IS_CJK.match(value):
            if len(value) == 1:
                found.append(Span(value, start, start + 1))
            found.extend(Span(value[i:i + 2], start + i, start + i + 2) for i in range(len(value) - 1))
        elif not (drop_stopwords and value in ENGLISH_STOPWORDS):
            found.append(Span(stem(value), start, run.end()))
    return found


def terms(text: str) -> list[str]:
    return [s.term for s in spans(normalise(text))]


_INTENTS = (
    ("documents", re.compile(r"準備|文件|帶什麼|要帶|附什麼|應備|(什麼|哪些)(資料|證件)|documents?|paperwork|bring|"
                             r"prepare|what do i need|required")),
    ("apply", re.compile(r"怎麼|如何|怎樣|去哪|哪裡|在哪|申辦|手續|流程|線上|網路|\bhow\b|\bwhere\b|apply|online")),
)


def intent(question: str) -> str:
    """What the question asks of a service: ``documents`` (what to bring), ``apply`` (how, where), or ``about``."""
    text = normalise(question)
    return next((name for name, pattern in _INTENTS if pattern.search(text)), "about")


@dataclass(frozen=True)
class Entry:
    """What the index knows of one catalog item."""

    key: str
    name: str
    name_en: str = ""
    category: str = ""
    agency: str = ""
    description: str = ""
    documents: Sequence[str] = ()
    keywords: Sequence[str] = ()

    def fields(self) -> dict[str, str]:
        return {"name": self.name, "name_en": self.name_en, "keywords": " ".join(self.keywords),
                "category": self.category, "agency": self.agency, "description": self.description,
                "documents": " ".join(self.documents)}


@dataclass(frozen=True)
class Hit:
    key: str
    score: float


@dataclass(frozen=True)
class Result:
    """Ranked items for one question, and how sure the index is that the first one answers it."""

    hits: list[Hit]
    confidence: float
    normalised: str

    @property
    def answered(self) -> bool:
        return bool(self.hits) and self.confidence >= CONFIDENCE_THRESHOLD


@dataclass
class _Query:
    """A question's terms with their weights, and which characters of it each term stands for.

    ``own`` holds the terms written in the question, ``borrowed`` those a synonym brought in.
    """

    text: str
    weights: dict[str, float] = field(default_factory=dict)
    own: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    borrowed: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    def add(self, term: str, start: int, end: int, *, synonym: bool = False) -> None:
        weight = SYNONYM_WEIGHT if synonym else 1.0
        self.weights[term] = max(self.weights.get(term, 0.0), weight)
        (self.borrowed if synonym else self.own).setdefault(term, []).append((start, end))


class CatalogIndex:
    """An immutable BM25F index over catalog entries, with synonyms expanded at query time."""

    def __init__(self, entries: Iterable[Entry], synonyms: Mapping[str, Sequence[str]] | None = None) -> None:
        self.entries = list(entries)
        self.synonyms = {normalise(k): [normalise(v) for v in vs] for k, vs in (synonyms or {}).items()}
        self._fillers = sorted({normalise(f) for f in FILLERS}, key=len, reverse=True)
        self._postings: dict[str, list[tuple[int, float]]] = {}
        self._doc_terms: list[frozenset[str]] = []
        self._naming_terms: list[frozenset[str]] = []
        self._idf: dict[str, float] = {}
        self._build()

    def _build(self) -> None:
        texts = [{name: terms(value) for name, value in e.fields().items()} for e in self.entries]
        average = {name: (sum(len(t[name]) for t in texts) / len(texts) if texts else 0.0) or 1.0
                   for name in FIELD_WEIGHTS}
        for doc, fields in enumerate(texts):
            weighted: dict[str, float] = {}
            for name, found in fields.items():
                norm = 1 - B + B * len(found) / average[name]
                for term in found:
                    weighted[term] = weighted.get(term, 0.0) + FIELD_WEIGHTS[name] / norm
            for term, tf in weighted.items():
                self._postings.setdefault(term, []).append((doc, tf / (K1 + tf)))
            self._doc_terms.append(frozenset(weighted))
            self._naming_terms.append(frozenset(t for name in NAMING_FIELDS for t in fields[name]))
        n = len(self.entries)
        self._idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self._postings.items()}

    def __len__(self) -> int:
        return len(self.entries)

    def search(self, question: str, limit: int = 3) -> Result:
        """The best ``limit`` items for ``question`` (never more than score well beside the first)."""
        query = self._parse(question)
        ranked = self._rank(query)
        if not ranked:
            return Result([], 0.0, query.text)
        best = ranked[0][1]
        hits = [Hit(self.entries[d].key, round(s, 4)) for d, s in ranked[:limit] if s >= best * RELATIVE_CUTOFF]
        strength = min(1.0, best / FULL_SCORE)
        return Result(hits, round(self._coverage(query, ranked[0][0]) * strength, 4), query.text)

    def matching(self, question: str, cutoff: float = 0.15) -> list[str]:
        """Keys of every item that shares something with ``question``, best first, for browsing lists."""
        ranked = self._rank(self._parse(question))
        if not ranked:
            return []
        return [self.entries[d].key for d, s in ranked if s >= ranked[0][1] * cutoff]

    def _rank(self, query: _Query) -> list[tuple[int, float]]:
        scores: dict[int, float] = {}
        for term, weight in query.weights.items():
            idf = self._idf.get(term)
            if idf is None:
                continue
            for doc, saturated in self._postings[term]:
                scores[doc] = scores.get(doc, 0.0) + weight * idf * saturated
        return sorted(scores.items(), key=lambda kv: (-kv[1], self.entries[kv[0]].key))

    def _parse(self, question: str) -> _Query:
        text = self._without_fillers(normalise(question)[:400])
        query = _Query(text)
        for span in spans(text, drop_stopwords=True):
            query.add(span.term, span.start, span.end)
        for phrase, expansions in self.synonyms.items():
            at = text.find(phrase)
            while at != -1:
                for expansion in expansions:
                    for span in spans(expansion, drop_stopwords=True):
                        query.add(span.term, at, at + len(phrase), synonym=True)
                at = text.find(phrase, at + 1)
        return query

    def _without_fillers(self, text: str) -> str:
        """Fillers become spaces, so no term straddles the gap they leave."""
        for filler in self._fillers:
            text = text.replace(filler, " ")
        return text

    def _coverage(self, query: _Query, doc: int) -> float:
        """How much of the question the item explains, each character weighted by its rarity (0…1).

        A character weighs as much as the most common catalog term containing it, so a rare pair
        straddling two words does not outweigh the words; a character in no catalog term weighs
        ``UNKNOWN_WEIGHT`` (a lone one little). A character is explained when the item holds a
        term containing it, or a synonym of the word it is in: fully when the item's name or
        keywords hold it, by ``INCIDENTAL_CREDIT`` when only its description or documents do.
        """
        own, borrowed = self._rarity(query.own), self._rarity(query.borrowed)
        credit = self._credit(query, doc)
        total = got = 0.0
        for position, alone in self._positions(query.text).items():
            weight = own.get(position) or borrowed.get(position) or (LONE_WEIGHT if alone else UNKNOWN_WEIGHT)
            total += weight
            got += weight * credit.get(position, 0.0)
        return got / total if total else 0.0

    def _credit(self, query: _Query, doc: int) -> dict[int, float]:
        held, naming = self._doc_terms[doc], self._naming_terms[doc]
        credit: dict[int, float] = {}
        for source in (query.own, query.borrowed):
            for term, ranges in source.items():
                if term not in held:
                    continue
                value = 1.0 if term in naming else INCIDENTAL_CREDIT
                for start, end in ranges:
                    for position in range(start, end):
                        credit[position] = max(credit.get(position, 0.0), value)
        return credit

    @staticmethod
    def _positions(text: str) -> dict[int, bool]:
        """The question's countable positions, each saying whether it stands alone (a lone character).

        A CJK character is one position; an English word counts once, however many letters it has.
        """
        positions: dict[int, bool] = {}
        for span in spans(text, drop_stopwords=True):
            cjk = _IS_CJK.match(text, span.start) is not None
            for position in range(span.start, span.end) if cjk else (span.start,):
                positions[position] = positions.get(position, True) and cjk and span.end - span.start == 1
        return positions

    def _rarity(self, source: dict[str, list[tuple[int, int]]]) -> dict[int, float]:
        """Each position's weight: the smallest IDF among the known terms covering it."""
        rarity: dict[int, float] = {}
        for term, ranges in source.items():
            idf = self._idf.get(term)
            if idf is None:
                continue
            for start, end in ranges:
                for position in range(start, end):
                    rarity[position] = min(rarity.get(position, idf), idf)
        return rarity
