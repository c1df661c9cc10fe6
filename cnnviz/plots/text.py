"""Text in figures: long titles broken into lines that fit a narrow chart (a phone, a panel of two)."""

from __future__ import annotations

__all__ = ["short_lines"]


def short_lines(text: str, width: int = 22) -> str:
    """``text`` in lines of at most ``width`` columns, joined with <br> for plotly (a Hangul syllable takes two).
    A single word longer than ``width`` keeps its own line."""
    lines: list[str] = []
    for word in text.split():
        line = f"{lines[-1]} {word}" if lines else word
        if lines and sum(2 if "\u1100" <= ch <= "\ud7a3" else 1 for ch in line) <= width:
            lines[-1] = line
        else:
            lines.append(word)
    return "<br>".join(lines)
