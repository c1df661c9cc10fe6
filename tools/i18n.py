"""Keep the translation catalogs in step with the code (Babel's extract + update, with a lock).

    python tools/i18n.py extract            # write cnnviz/locale/cnnviz.pot from every marked string
    python tools/i18n.py update             # the .pot into ko's .po: new strings added empty, removed ones dropped
    python tools/i18n.py missing [PATH ...] # JSON {msgid: ""} of what has no Korean yet (in PATHs, or anywhere)
    python tools/i18n.py add FILE.json      # put translations {msgid: msgstr or [forms]} into ko's .po
    python tools/i18n.py check              # exit 1 if any message lacks a translation (the tests do the same)

``update`` and ``add`` take a file lock, so several people may add translations at the same time. Strings are marked
in the code with ``_()``, ``ngettext()``, ``pgettext()``, ``npgettext()``, ``N_()`` and ``NC_()`` from ``cnnviz.i18n``. A
message with a context (``pgettext("direction", "Right")``) has the JSON key ``"direction\u0004Right"`` (gettext's
own separator) in ``missing`` and ``add``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("cnnviz", "dashboard", "pages", "deploy")
LOCALE_DIR = ROOT / "cnnviz" / "locale"
POT = LOCALE_DIR / "cnnviz.pot"
LANG = "ko"
PO = LOCALE_DIR / LANG / "LC_MESSAGES" / "cnnviz.po"
LOCK = LOCALE_DIR / ".lock"
KEYWORDS = {**{k: v for k, v in DEFAULT_KEYWORDS.items() if k in {"_", "gettext", "ngettext", "N_", "pgettext",
                                                                  "npgettext"}},
            "NC_": ((1, "c"), 2)}  # N_ with a context (cnnviz.i18n.NC_)
CONTEXT_SEPARATOR = "\x04"  # "context\x04msgid": a message with a context, as gettext's compiled catalogs write it


def json_key(msg) -> str:
    """The key of a message in ``missing``'s and ``add``'s JSON: its (singular) id, after its context if it has one."""
    msgid = msg.id[0] if isinstance(msg.id, tuple) else msg.id
    return f"{msg.context}{CONTEXT_SEPARATOR}{msgid}" if msg.context else msgid


def source_files(paths: Iterable[str | Path] | None = None) -> list[Path]:
    roots = [Path(p) for p in paths] if paths else [ROOT / s for s in SOURCES]
    files: list[Path] = []
    for root in roots:
        root = root if root.is_absolute() else (Path.cwd() / root)
        files.extend(sorted(root.rglob("*.py")) if root.is_dir() else [root])
    return [f.resolve() for f in files]


def extract(paths: Iterable[str | Path] | None = None) -> Catalog:
    """Every marked message in the given files (default: the whole project), as a template catalog."""
    catalog = Catalog(project="cnnviz", domain="cnnviz", charset="utf-8")
    for path in source_files(paths):
        for lineno, message, comments, context in extract_from_file("python", path, keywords=KEYWORDS,
                                                                    comment_tags=("Translators:",)):
            catalog.add(message, None, [(str(path.relative_to(ROOT)), lineno)], auto_comments=comments,
                        context=context)
    return catalog


def read_catalog(path: Path = PO) -> Catalog:
    if not path.exists():
        return Catalog(locale=LANG, project="cnnviz", domain="cnnviz", charset="utf-8")
    with path.open("rb") as f:
        return read_po(f, locale=LANG, domain="cnnviz")


STABLE_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)


def write_catalog(catalog: Catalog, path: Path = PO) -> None:
    """Write the catalog sorted by message, with the files that use each message but no line numbers and a fixed
    date in the header: a change to the code rewrites only the entries it touches, so two branches that add
    translations merge without conflicts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog.fuzzy = False
    catalog.project, catalog.version = "cnnviz", "0.1.0"
    catalog.language_team = "cnnviz (docs/GLOSSARY.md)"
    catalog.last_translator = "cnnviz developers"
    catalog.creation_date = catalog.revision_date = STABLE_DATE
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        write_po(f, catalog, width=120, sort_output=True, omit_header=False, ignore_obsolete=True,
                 include_lineno=False)
    tmp.replace(path)


@contextmanager
def locked() -> Iterator[None]:
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def untranslated(catalog: Catalog, template: Catalog) -> list:
    """Messages of ``template`` with no (or a fuzzy, or an incomplete plural) translation in ``catalog``."""
    out = []
    for msg in template:
        if not msg.id:
            continue
        have = catalog.get(msg.id, context=msg.context)
        strings = () if have is None else (have.string if isinstance(have.string, tuple) else (have.string,))
        if have is None or have.fuzzy or not strings or not all(strings):
            out.append(msg)
    return out


def update() -> Catalog:
    template = extract()
    with locked():
        catalog = read_catalog()
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        write_catalog(catalog)
    return catalog


def add(translations: dict[str, str | list[str]]) -> int:
    """Put translations into the catalog (under the lock); returns how many were set."""
    template = extract()
    with locked():
        catalog = read_catalog()
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        n = 0
        index = {json_key(m): m for m in catalog if m.id}
        for key, text in translations.items():
            msg = index.get(key)
            if msg is None:
                print(f"not in the code (skipped): {key!r}", file=sys.stderr)
                continue
            if isinstance(msg.id, tuple):
                forms = text if isinstance(text, list) else [text]
                msg.string = tuple(forms[: catalog.num_plurals]) + ("",) * (catalog.num_plurals - len(forms))
            else:
                msg.string = text if isinstance(text, str) else text[0]
            msg.flags.discard("fuzzy")
            n += 1
        write_catalog(catalog)
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("extract")
    sub.add_parser("update")
    p_missing = sub.add_parser("missing")
    p_missing.add_argument("paths", nargs="*")
    p_add = sub.add_parser("add")
    p_add.add_argument("file")
    sub.add_parser("check")
    args = parser.parse_args(argv)

    if args.cmd == "extract":
        POT.parent.mkdir(parents=True, exist_ok=True)
        with POT.open("wb") as f:
            write_po(f, extract(), width=120, sort_output=True)
        print(f"wrote {POT.relative_to(ROOT)}")
    elif args.cmd == "update":
        catalog = update()
        print(f"{PO.relative_to(ROOT)}: {len(catalog)} messages")
    elif args.cmd == "missing":
        todo = untranslated(read_catalog(), extract(args.paths or None))
        skeleton = {json_key(m): ([""] if isinstance(m.id, tuple) else "") for m in todo}
        print(json.dumps(skeleton, ensure_ascii=False, indent=1))
    elif args.cmd == "add":
        print(f"{add(json.loads(Path(args.file).read_text(encoding='utf-8')))} translations set")
    elif args.cmd == "check":
        todo = untranslated(read_catalog(), extract())
        for m in todo:
            print(f"{m.locations[0][0]}:{m.locations[0][1]}: {m.id!r}")
        print(f"{len(todo)} messages without a Korean translation")
        return 1 if todo else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
