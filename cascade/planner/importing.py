"""Keyword import: every row is judged on its own and rejected with a reason; nothing bad is
stored. Duplicates are judged case- and whitespace-insensitively within the site."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cascade.accounts.models import Site
from cascade.lib.limits import text_problem
from cascade.planner.models import Intent, Keyword, normalize

MAX_ROWS = 50_000
MAX_KEYWORD_LENGTH = 200
INTENTS = {i.value for i in Intent}


class ImportRefused(Exception):
    """The whole request is unusable (not UTF-8, no keyword column, too many rows)."""


@dataclass
class ImportResult:
    created: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # The duplicate rows (the first 1,000): row, value and what it repeats, for people.
    duplicate_rows: list[dict[str, Any]] = field(default_factory=list)

    def _duplicate(self, row: int, value: str, of: str) -> None:
        self.duplicates += 1
        if len(self.duplicate_rows) < 1000:
            self.duplicate_rows.append({"row": row, "value": value, "of": of})

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "duplicates": self.duplicates, "rejected": self.rejected}


def _reject(result: ImportResult, row: int, value: Any, reason: str) -> None:
    shown = value if isinstance(value, str) else repr(value)
    if isinstance(shown, str) and len(shown) > 80:
        shown = shown[:77] + "…"
    if len(result.rejected) < 1000:
        result.rejected.append({"row": row, "value": shown, "reason": reason})


def _number(value: Any, name: str, low: int, high: int) -> int | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {str(value)[:20]!r}") from None
    if not low <= number <= high:
        raise ValueError(f"{name} must be between {low} and {high}")
    return number


def clean_row(raw: Any) -> tuple[str, dict[str, Any]]:
    """Return (keyword, fields) or raise ValueError with the reason."""
    if not isinstance(raw, dict):
        raise ValueError("each row must be an object with a 'keyword' field")
    text = raw.get("keyword")
    if not isinstance(text, str):
        raise ValueError("keyword is missing" if text is None else "keyword must be text")
    problem = text_problem(text)
    if problem:
        raise ValueError(f"keyword {problem}")
    keyword = " ".join(text.split())
    if not keyword:
        raise ValueError("keyword is empty")
    if len(keyword) > MAX_KEYWORD_LENGTH:
        raise ValueError(
            f"keyword is too long ({len(keyword)} characters; at most {MAX_KEYWORD_LENGTH})"
        )
    intent = raw.get("intent") or ""
    if not isinstance(intent, str):
        raise ValueError("intent must be text")
    intent = intent.strip().lower()
    if intent and intent not in INTENTS:
        raise ValueError(f"intent must be one of {', '.join(sorted(INTENTS))}")
    return keyword, {
        "volume": _number(raw.get("volume"), "volume", 0, 2_000_000_000),
        "difficulty": _number(raw.get("difficulty"), "difficulty", 0, 100),
        "intent": intent,
    }


def _lines(source: bytes | Iterable[bytes]) -> Iterator[str]:
    """Text lines of UTF-8 bytes given whole or in chunks (a request or an uploaded file read as
    a stream), decoded as they come."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending, seen = "", 0
    for chunk in [source] if isinstance(source, bytes) else source:
        try:
            text = pending + decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise ImportRefused(
                f"The file is not UTF-8 text (bad byte at position {seen + exc.start})."
            ) from None
        seen += len(chunk)
        *complete, pending = text.split("\n")
        for line in complete:
            yield line + "\n"
    try:
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ImportRefused("The file is not UTF-8 text (it ends inside a character).") from None
    if pending:
        yield pending


KNOWN_COLUMNS = ("keyword", "volume", "difficulty", "intent")


class CsvRows(list):
    """A CSV file's rows, and the columns of its header that are not imported."""

    ignored: list[str]


def rows_from_csv(source: bytes | Iterable[bytes], limit: int | None = MAX_ROWS) -> CsvRows:
    """Rows of a CSV file with a header row, read as a stream (at most `limit` + 1 are kept)."""
    reader = csv.reader(_lines(source))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRefused(
            "The CSV file is empty; it needs a header row with a 'keyword' column."
        ) from None
    except csv.Error as exc:
        raise ImportRefused(f"The CSV file cannot be read: {exc}") from None
    columns = [h.strip().lower() for h in header]
    if "keyword" not in columns:
        found = ", ".join(c for c in columns if c)[:200] or "nothing"
        raise ImportRefused(f"The CSV header must include a 'keyword' column; found: {found}.")
    known = set(KNOWN_COLUMNS)
    rows = CsvRows()
    rows.ignored = [
        c for c in dict.fromkeys(h.strip() for h in header) if c and c.lower() not in known
    ]
    try:
        for values in reader:
            if limit is not None and len(rows) > limit:
                break
            if not any(v.strip() for v in values):
                rows.append({"keyword": ""})
                continue
            rows.append({c: v for c, v in zip(columns, values, strict=False) if c in known})
    except csv.Error as exc:
        row = len(rows) + 2
        if "field limit" in str(exc):
            raise ImportRefused(
                f"Row {row:,} of the CSV file holds a field of more than "
                f"{csv.field_size_limit():,} characters (a keyword has at most "
                f"{MAX_KEYWORD_LENGTH}): is it a list of keywords, one a row?"
            ) from None
        raise ImportRefused(f"The CSV file cannot be read at row {row:,}: {exc}") from None
    if not rows:
        raise ImportRefused(
            "The CSV file has a header row but no keywords under it: add one keyword a row."
        )
    return rows


def import_rows(site: Site, rows: list[Any], *, first_row: int = 1) -> ImportResult:
    if len(rows) > MAX_ROWS:
        raise ImportRefused(
            f"Too many rows ({len(rows)}+); import at most {MAX_ROWS:,} keywords per request."
        )
    result = ImportResult()
    fresh: dict[str, Keyword] = {}
    rows_of: dict[str, int] = {}  # normalized keyword -> the row it was first seen in
    for offset, raw in enumerate(rows):
        row_number = first_row + offset
        try:
            keyword, fields = clean_row(raw)
        except ValueError as exc:
            _reject(
                result, row_number, raw.get("keyword") if isinstance(raw, dict) else raw, str(exc)
            )
            continue
        key = normalize(keyword)
        if key in fresh:
            result._duplicate(row_number, keyword, f"the same keyword as row {rows_of[key]}")
            continue
        fresh[key] = Keyword(site=site, keyword=keyword, normalized=key, **fields)
        rows_of[key] = row_number
    existing: set[str] = set()
    keys = list(fresh)
    for start in range(0, len(keys), 500):
        existing.update(
            Keyword.objects.filter(site=site, normalized__in=keys[start : start + 500]).values_list(
                "normalized", flat=True
            )
        )
    new = [k for key, k in fresh.items() if key not in existing]
    for key in sorted(existing & fresh.keys(), key=rows_of.__getitem__):
        result._duplicate(rows_of[key], fresh[key].keyword, "already on this site")
    result.duplicate_rows.sort(key=lambda d: d["row"])
    # ignore_conflicts: a concurrent import of the same keyword is a duplicate, not an error.
    before = Keyword.objects.filter(site=site).count()
    Keyword.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    created = Keyword.objects.filter(site=site).count() - before
    result.duplicates += len(new) - created
    result.created = created
    return result


def import_file(site: Site, source: bytes | Iterable[bytes]) -> ImportResult:
    """A CSV file of any length (the command line): its rows imported MAX_ROWS at a time, each
    part judged as a request's rows are."""
    rows = rows_from_csv(source, limit=None)
    total = ImportResult()
    for start in range(0, len(rows), MAX_ROWS):
        part = import_rows(site, rows[start : start + MAX_ROWS], first_row=2 + start)
        total.created += part.created
        total.duplicates += part.duplicates
        total.rejected += part.rejected[: 1000 - len(total.rejected)]
        total.duplicate_rows += part.duplicate_rows[: 1000 - len(total.duplicate_rows)]
    return total
