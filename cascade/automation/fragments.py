"""The live region as fragments, so an update can carry only the parts that changed.

The template marks each part that changes while a run goes on with `{% fragment %}` around one
element with an id (the global bar, each stage card, the controls…); the marks are written only
into the event stream's renderings (`live_fragments` in the context). `split` takes a
rendered region apart once per update; `patch` says what turns one rendering into another: the
changed fragments, each marked for htmx to morph in out of band, or None when the region's
shape changed (a fragment came or went, or markup outside the fragments differs) and only the
whole region will do."""

from __future__ import annotations

import re
from dataclasses import dataclass

START, END = "<!--f-->", "<!--/f-->"
_FRAGMENT = re.compile(f"{START}(.*?){END}", re.S)
_ROOT_ID = re.compile(r'\A<([a-z][a-z0-9]*)\b[^>]*?\sid="([^"]+)"')


@dataclass(frozen=True, eq=False)
class Region:
    html: str  # the whole region, markers removed
    shape: tuple[str, ...]  # the markup between fragments, and the fragments' ids in order
    parts: dict[str, str]  # fragment id -> its markup
    shown: tuple[str, int] | None  # the (run id, version) it shows; None before any run


def split(marked: str, shown: tuple[str, int] | None = None) -> Region:
    pieces = _FRAGMENT.split(marked)  # [outside, fragment, outside, fragment, …, outside]
    parts: dict[str, str] = {}
    shape: list[str] = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            shape.append(piece)
            continue
        markup = piece.strip()
        root = _ROOT_ID.match(markup)
        if root is None or root[2] in parts:
            raise ValueError(
                f"A live fragment needs one root element with its own id: {markup[:80]!r}"
            )
        parts[root[2]] = markup
        shape.append(f"#{root[2]}")
    return Region("".join(pieces), tuple(shape), parts, shown)


def patch(old: Region, new: Region) -> str | None:
    """The fragments of `new` that differ from `old`, each with `hx-swap-oob="morph"` on its
    root element; None when the two regions differ in shape."""
    if old.shape != new.shape:
        return None
    return "".join(
        _out_of_band(markup) for key, markup in new.parts.items() if old.parts[key] != markup
    )


def _out_of_band(markup: str) -> str:
    root = _ROOT_ID.match(markup)
    assert root is not None  # split checked it
    at = root.end(1)
    return f'{markup[:at]} hx-swap-oob="morph"{markup[at:]}'
