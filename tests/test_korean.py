"""Korean that reads like the lecture notes: particles chosen from the word before them, one word per glossary term,
no fallback particles, no English or server paths inside Korean messages."""

from __future__ import annotations

import pytest

from cnnviz import i18n
from cnnviz.korean import final_consonant, josa, split_particle, with_josa


@pytest.mark.parametrize("word, particle, want", [
    # Hangul: the last syllable's final consonant
    ("셔츠", "을", "를"), ("채널", "를", "을"), ("모델", "로", "로"), ("파일", "으로", "로"), ("층", "으로", "으로"),
    ("사과", "이", "가"), ("필터", "은", "는"), ("커널", "와", "과"), ("바지", "과", "와"),
    # digits: 0 영, 1 일, 2 이, 3 삼, 4 사, 5 오, 6 육, 7 칠, 8 팔, 9 구; 10 십, 100 백, 1000 천, 10000 만
    ("채널 0", "를", "을"), ("채널 0", "로", "으로"), ("1", "로", "로"), ("2", "을", "를"), ("2×3×3", "로", "으로"),
    ("4", "은", "는"), ("5", "이", "가"), ("6", "로", "으로"), ("7", "로", "로"), ("8", "를", "을"), ("9", "과", "와"),
    ("10", "를", "을"), ("10", "로", "으로"), ("20", "는", "은"), ("100", "가", "이"), ("1,000", "를", "을"),
    ("60000", "를", "을"), ("0.5", "을", "를"), ("0.25", "로", "로"), ("0.001", "를", "을"), ("1e-3", "가", "이"),
    ("features.10", "는", "은"), ("(3, 3)", "를", "을"), ("24.2 %", "을", "를"),
    # Latin letters: acronyms and single letters by their names (L 엘, M 엠, N 엔, R 알), words by their sound
    ("CNN", "를", "을"), ("SGD", "을", "를"), ("x", "을", "를"), ("L", "으로", "로"), ("M", "로", "으로"),
    ("conv2", "을", "를"), ("layer4", "이", "가"), ("VGG16", "를", "을"), ("ResNet", "를", "을"), ("Adam", "가", "이"),
    ("pooling", "를", "을"), ("model", "으로", "로"), ("layer", "을", "를"), ("ReLU", "을", "를"), ("mean", "는", "은"),
    ("'same'", "를", "을"), ("step", "를", "을"), ("block", "를", "을"), ("Dropout", "를", "을"), ("x.png", "을", "를"),
    ("simple_convnet", "가", "이"), ("MobileNetV2", "을", "를"), ("**run 3**", "가", "이"),
])
def test_the_particle_follows_how_the_word_is_read(word, particle, want):
    assert josa(word, particle) == want
    assert with_josa(word, particle) == f"{word}{want}"


def test_final_consonants_of_numbers_are_their_korean_readings():
    assert final_consonant("0") == 21  # 영: ㅇ
    assert final_consonant("3") == 16  # 삼: ㅁ
    assert final_consonant("7") == 8  # 칠: ㄹ
    assert [final_consonant(str(10 ** k)) for k in range(1, 5)] == [17, 1, 4, 4]  # 십 백 천 만
    assert final_consonant("") == 0 and final_consonant("…") == 0


def test_an_unknown_particle_is_refused():
    with pytest.raises(ValueError, match="unknown particle"):
        josa("채널", "의")
    assert split_particle(",.0f을") == (",.0f", "을") and split_particle("이라는") == ("", "이라는")
    assert split_particle(".2%") == (".2%", None)


def test_a_korean_message_chooses_its_particles_when_formatted():
    msg = i18n.Message("{name:을} 지웠습니다 · {n:,로} · {p:.1%는} · {v!r:이} · {0:와}")
    assert msg.format("셔츠", name="채널 0", n=1000, p=0.5, v="x") == "채널 0을 지웠습니다 · 1,000으로 · 50.0%는 · 'x'가 · 셔츠와"
    assert i18n.Message("{name:을}").format_map({"name": "conv2"}) == "conv2를"
    assert (i18n.Message("{a:을}") + " 봅니다").format(a="층") == "층을 봅니다"
    assert isinstance(i18n._with_particles("{x:은}"), i18n.Message)
    assert type(i18n._with_particles("{x}은")) is str  # strings without a particle placeholder stay plain
