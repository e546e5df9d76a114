"""Reading numbers written the way financial text writes them."""
from __future__ import annotations

import re

_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-"})


def parse_number(text: str | None) -> float | None:
    """The value of a string that *is* a number: ``"7983.0"``, ``"$1,234"``, ``"(12.5)"``, ``"-3%"``.

    Parentheses mean negative (accounting style); a trailing ``%`` is kept in the units written
    (``"25%"`` -> 25.0). Anything else in the string (words, two numbers) -> ``None``.
    """
    if text is None:
        return None
    s = text.strip().translate(_MINUS)
    negative = s.startswith("(") and s.endswith(")")
    if negative:
        s = s[1:-1].strip()
    s = s.rstrip("%").strip()
    prefix = re.match(r"[\s+\-$€£]*", s).group(0)  # signs and currency before the digits, in any order
    sign = -1.0 if "-" in prefix else 1.0
    s = s[len(prefix):]
    if not re.fullmatch(r"(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|\.\d+", s):
        return None
    value = float(s.replace(",", "")) * sign
    return -abs(value) if negative else value
