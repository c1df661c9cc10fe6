"""Korean particles (조사) chosen from the word before them, as a Korean reader reads that word aloud.

A particle has two forms: one after a final consonant (받침), one after a vowel — 을/를, 이/가, 은/는, 과/와,
으로/로 (ㄹ takes 로: 채널로, 파일로). The word before it is often a value put into a message (a layer name, a
number, a model), so the choice is made when the message is formatted::

    josa("채널 3", "을")      # '을'  (삼)
    josa("conv2", "를")       # '를'  (이)
    josa("2×3×3", "로")       # '으로' (삼)
    josa("features.10", "은") # '은'  (십)

Hangul is read by its last syllable; digits by their Sino-Korean reading (0 영, 1 일, 2 이, 3 삼, …, 10 십,
100 백, 1000 천, 10000 만; a decimal by its last digit); Latin letters by their names when they are an acronym or a
single letter (L 엘, M 엠, N 엔, R 알 end in a consonant) and by the English word's sound otherwise (model 모델,
pooling 풀링, layer 레이어, net 넷). The Korean catalog writes ``{name:을}`` and ``cnnviz.i18n`` formats it.
"""

from __future__ import annotations

import re

__all__ = ["PARTICLES", "PARTICLE_FORMS", "final_consonant", "josa", "split_particle", "with_josa"]

# (after a consonant, after a vowel); 으로/로 is special: ㄹ takes the vowel form
PARTICLES: tuple[tuple[str, str], ...] = (
    ("을", "를"), ("이", "가"), ("은", "는"), ("과", "와"), ("으로", "로"), ("이나", "나"), ("이라", "라"),
    ("이라는", "라는"), ("이라고", "라고"), ("이며", "며"), ("이고", "고"), ("으로는", "로는"), ("으로도", "로도"),
    ("이든", "든"), ("이면", "면"),
)
_PAIR = {form: pair for pair in PARTICLES for form in pair}
PARTICLE_FORMS = tuple(sorted(_PAIR, key=len, reverse=True))  # longest first: 이라는 before 는

NONE, RIEUL = 0, 8  # jongseong indexes: no final consonant, ㄹ
_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_DIGIT = {"0": 21, "1": RIEUL, "2": NONE, "3": 16, "4": NONE, "5": NONE, "6": 1, "7": RIEUL, "8": RIEUL,
          "9": NONE}  # 영 일 이 삼 사 오 육 칠 팔 구
# 10, 100, 1000, 10^4 … by the number of trailing zeros: 십 백 천 만 (…만) 억 (…억) 조 (…조) 경
_POWER = {1: 17, 2: 1, 3: 4, 4: 4, 5: 4, 6: 4, 7: 4, 8: 1, 9: 1, 10: 1, 11: 1, 12: NONE, 13: NONE, 14: NONE,
          15: NONE}
# letter names: 에이 비 씨 디 이 에프 지 에이치 아이 제이 케이 엘 엠 엔 오 피 큐 알 에스 티 유 브이 더블유 엑스 와이 지
_LETTER = {**{c: NONE for c in "abcdefghijkopqstuvwxyz"}, "l": RIEUL, "m": 16, "n": 4, "r": RIEUL}
_SYMBOL = {"%": NONE, "°": NONE, "ε": 4, "∞": NONE}  # 퍼센트, 도, 엡실론, 무한대; other Greek letters end in a vowel
_TRAILING = " \t\n)]}>\"'`*_.,;:!?…·»”’」』"
_NUMBER = re.compile(r"(\d[\d,]*)(\.\d+)?$")
_LATIN = re.compile(r"[A-Za-z]+$")
_VOWELS = "aeiou"


def final_consonant(word: object) -> int:
    """How ``word`` ends when read aloud in Korean: 0 for a vowel, else the index of its final consonant (8 = ㄹ)."""
    text = str(word).rstrip(_TRAILING)
    if not text:
        return NONE
    last = text[-1]
    if _HANGUL_FIRST <= ord(last) <= _HANGUL_LAST:
        return (ord(last) - _HANGUL_FIRST) % 28
    if last.isdigit() and last.isascii():
        return _number(_NUMBER.search(text))
    if last.isascii() and last.isalpha():
        return _latin(_LATIN.search(text).group(0), text)
    return _SYMBOL.get(last, NONE)


def _number(match: re.Match) -> int:
    whole, fraction = match.group(1).replace(",", ""), match.group(2)
    if fraction:  # 0.25: 영 점 이 오 — the last digit
        return _DIGIT[fraction[-1]]
    digits = whole.lstrip("0")
    if not digits:
        return _DIGIT["0"]
    zeros = len(digits) - len(digits.rstrip("0"))
    return _DIGIT[digits[-1]] if zeros == 0 else _POWER.get(zeros, 21)  # 경 and beyond: ㅇ


def _latin(letters: str, text: str) -> int:
    # an acronym (CNN, VGG, MB), a single letter (x, L), or a run without vowels (sgd, png): letter by letter
    if len(letters) == 1 or letters.isupper() or not any(c in _VOWELS + "y" for c in letters.lower()):
        return _LETTER[letters[-1].lower()]
    # CamelCase: the last word (ResNet: Net)
    parts = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", letters)
    return _english_word((parts[-1] if parts else letters).lower())


def _english_word(w: str) -> int:
    """The final sound of an English word as Korean writes it (a rule of thumb: 풀링, 모델, 레이어, 넷, 스텝, 블록)."""
    if w.endswith("ng"):
        return 21  # ㅇ
    if w.endswith(("le", "l")):
        return RIEUL
    if w.endswith(("me", "m")):
        return 16  # ㅁ
    if w.endswith(("ne", "n")):
        return 4  # ㄴ
    if w.endswith("ck"):
        return 1  # ㄱ: block 블록
    if w.endswith("out"):
        return 19  # ㅅ: dropout 드롭아웃
    short = len(w) >= 2 and w[-2] in _VOWELS and (len(w) < 3 or w[-3] not in _VOWELS)
    if short and w[-1] == "t":
        return 19  # ㅅ: net 넷, input 인풋
    if short and w[-1] == "p":
        return 17  # ㅂ: step 스텝, map 맵
    if short and w[-1] == "k":
        return 1  # ㄱ
    return NONE  # layer 레이어, relu 렐루, image 이미지, max 맥스, conv 콘브


def josa(word: object, particle: str) -> str:
    """The form of ``particle`` (either form: '을' or '를', '으로' or '로', …) that follows ``word``."""
    try:
        after_consonant, after_vowel = _PAIR[particle]
    except KeyError:
        raise ValueError(f"unknown particle {particle!r}; one of {', '.join(_PAIR)}") from None
    final = final_consonant(word)
    if after_consonant.startswith("으로"):
        return after_vowel if final in (NONE, RIEUL) else after_consonant
    return after_vowel if final == NONE else after_consonant


def with_josa(word: object, particle: str) -> str:
    """``word`` followed by the right form of ``particle``: with_josa('채널 0', '를') == '채널 0을'."""
    return f"{word}{josa(word, particle)}"


def split_particle(spec: str) -> tuple[str, str | None]:
    """A format spec that ends in a particle ('을', ',.0f을') → (the spec before it, the particle); else (spec, None)."""
    for form in PARTICLE_FORMS:
        if spec.endswith(form):
            return spec[: -len(form)], form
    return spec, None

