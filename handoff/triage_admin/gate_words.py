"""The model gate's reasons in the admin's language (issue 17, item 2).

:func:`nlu.registry.decide_activation` and the registry give their reasons as English sentences,
and those are what is stored (a training job's ``gate_reason``, a model version's ``reason``).  The
admin's page shows them in its own language: each English sentence is matched against the
registry's templates below, and the same template in ``lang`` is filled with the numbers found.
A sentence no template matches is shown as it is (``lang="en"`` on the page)."""

from __future__ import annotations

import re
from functools import cache

from gateway import catalogues


def _words(prefix: str, lang: str) -> dict[str, str]:
    return catalogues.section("console", "en" if lang == "en" else "sv", prefix)


def gate_reasons(lang: str) -> dict[str, str]:
    """The registry's sentences by key (``gate_reason.`` ids; the English ones are what it stores)."""
    return _words("gate_reason.", lang)


def metric_words(lang: str) -> dict[str, str]:
    return _words("gate_metric.", lang)


@cache
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    out = []
    for key, template in gate_reasons("en").items():
        parts = re.split(r"\{(\w+)\}", template)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        out.append((key, re.compile(f"^{regex}$")))
    return tuple(out)


def gate_reason(text: str | None, lang: str) -> str:
    """The registry's English reason ``text`` in ``lang`` (as it is when no template matches)."""
    if not text:
        return ""
    if lang == "en":
        return text  # the registry's own words
    words = "sv"
    for key, pattern in _patterns():
        found = pattern.match(text)
        if found:
            values = {k: metric_words(words).get(v, v) for k, v in found.groupdict().items()}
            return gate_reasons(words)[key].format(**values)
    return text
