"""Korean and English: gettext catalogs kept as Babel ``.po`` files in ``cnnviz/locale``.

Every string a user reads is written in English and marked where it is written::

    from cnnviz.i18n import _, ngettext, N_
    raise ValueError(_("kernel {k} does not fit a {n}x{n} input").format(k=k, n=n))
    ngettext("{n} epoch", "{n} epochs", n).format(n=n)
    pgettext("direction", "Right")       # a short word with two meanings: the context says which
    TITLES = {"max": N_("Max pooling")}   # marked here, translated where shown: _(TITLES[kind])
    SECTION = NC_("classroom", "Class")   # the same, with a context

A Korean translation chooses its particles from the value put in front of them: ``{name:을}`` is "채널 3을" or
"conv2를" (``cnnviz.korean.josa``), so the catalog never needs a fallback like 을(를).

The language is per thread of work (a ``ContextVar``): the dashboard sets it at the start of each script run, the CLI
from ``--lang`` or the environment (``CNNVIZ_LANG``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``), a background job from
the language of the session that started it. ``.po`` files are compiled in memory when first used, so editing a
catalog needs no build step. ``python tools/i18n.py`` extracts, updates and checks the catalogs.
"""

from __future__ import annotations

import gettext as _gettext
import io
import os
import re
import string
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from .korean import PARTICLE_FORMS, split_particle, with_josa

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "cnnviz"
LANGUAGES = {"ko": "한국어", "en": "English"}  # code -> the language's own name, for the switch
DEFAULT_LANGUAGE = "en"

_current: ContextVar[str | None] = ContextVar("cnnviz_language", default=None)
_resolver: Callable[[], str | None] | None = None
_lock = threading.Lock()
_cache: dict[str, _gettext.NullTranslations] = {}


def normalize(lang: str | None) -> str | None:
    """'ko', 'ko_KR.UTF-8', 'ko-KR' -> 'ko'; 'en_US' -> 'en'; anything else -> None."""
    if not lang:
        return None
    code = lang.strip().replace("-", "_").split(".")[0].split("_")[0].lower()
    return code if code in LANGUAGES else None


def language_from_environment(environ: dict[str, str] | None = None) -> str:
    """The language the environment asks for: CNNVIZ_LANG, then the POSIX locale variables; English otherwise."""
    env = os.environ if environ is None else environ
    for var in ("CNNVIZ_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var)
        if value:  # the first one set decides, as in POSIX
            return normalize(value) or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def set_resolver(resolver: Callable[[], str | None] | None) -> None:
    """A function asked for the language when none was set in this thread (the dashboard's session state)."""
    global _resolver
    _resolver = resolver


def get_language() -> str:
    """The language of the current thread of work: 'ko' or 'en'."""
    lang = _current.get()
    if lang is None and _resolver is not None:
        try:
            lang = normalize(_resolver())
        except Exception:  # a resolver outside its context (e.g. no Streamlit session) knows nothing
            lang = None
    return lang or language_from_environment()


def set_language(lang: str | None) -> str:
    """Use ``lang`` for the rest of this thread of work (None: back to the environment's); returns the language."""
    code = normalize(lang) if lang else None
    if lang and code is None:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    _current.set(code)
    return get_language()


@contextmanager
def language(lang: str | None) -> Iterator[str]:
    """``with language('ko'):`` … translated text inside; the previous language after."""
    code = normalize(lang) if lang else None
    if lang and code is None:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    token = _current.set(code)
    try:
        yield get_language()
    finally:
        _current.reset(token)


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def translations(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English: the identity), compiled from its .po on first use."""
    with _lock:
        if lang not in _cache:
            _cache[lang] = _compile(lang)
        return _cache[lang]


def reload() -> None:
    """Forget compiled catalogs (after a .po changed)."""
    with _lock:
        _cache.clear()


def _compile(lang: str) -> _gettext.NullTranslations:
    path = po_path(lang)
    if lang == DEFAULT_LANGUAGE or not path.exists():
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)  # fuzzy entries stay untranslated (and fail the catalog test)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def gettext(message: str) -> str:
    """``message`` in the current language (a constant marked with ``NC_`` in the sense its context gives it)."""
    if isinstance(message, InContext):
        return pgettext(message.context, message)
    return _with_particles(translations(get_language()).gettext(message))


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the current language."""
    return _with_particles(translations(get_language()).ngettext(singular, plural, n))


def pgettext(context: str, message: str) -> str:
    """``message`` in the sense ``context`` gives it (a short word with two meanings: "Right" as a direction, not
    as correct): ``pgettext("direction", "Right")``."""
    return _with_particles(translations(get_language()).pgettext(context, message))


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    """``ngettext`` with a context, as ``pgettext``."""
    return _with_particles(translations(get_language()).npgettext(context, singular, plural, n))


class _ParticleFormatter(string.Formatter):
    """str.format, where a spec ending in a Korean particle picks the particle's form from the value as formatted:
    ``"{name:을} 지웠습니다"`` → "conv1을 지웠습니다", "{n:,.0f으로}" → "1,000으로"."""

    def format_field(self, value: object, format_spec: str) -> str:
        spec, particle = split_particle(format_spec)
        text = format(value, spec)
        return text if particle is None else with_josa(text, particle)


class Message(str):
    """A translated string whose placeholders choose their particles (``{name:을}``) when it is formatted."""

    def format(self, *args: object, **kwargs: object) -> str:  # type: ignore[override]
        return _ParticleFormatter().vformat(str(self), args, kwargs)

    def format_map(self, mapping) -> str:  # type: ignore[override]
        return _ParticleFormatter().vformat(str(self), (), mapping)

    def __add__(self, other: str) -> str:
        return Message(str(self) + other)

    def __radd__(self, other: str) -> str:
        return Message(other + str(self))


_PARTICLE_SPEC = re.compile(r"\{[^{}:]*:[^{}]*(?:" + "|".join(PARTICLE_FORMS) + r")\}")


def _with_particles(text: str) -> str:
    """A translation with a particle placeholder becomes a ``Message`` (plain strings stay plain)."""
    return Message(text) if "{" in text and _PARTICLE_SPEC.search(text) else text


def N_(message: str) -> str:
    """Marks a string for the catalog without translating it now (module constants); translate it where shown."""
    return message


class InContext(str):
    """A marked constant that keeps its context, so that ``_()`` where it is shown translates it in that sense."""

    context: str

    def __new__(cls, context: str, message: str) -> InContext:
        self = super().__new__(cls, message)
        self.context = context
        return self


def NC_(context: str, message: str) -> str:
    """``N_`` with a context: ``NC_("classroom", "Class")`` is marked now and translated by ``_()`` where shown."""
    return InContext(context, message)


_ = gettext


def has_hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)
