"""The `id` path converter: a row id in a URL. A number no row can have (more digits than the
database holds) does not match, so the answer is a 404, never a 500."""

from __future__ import annotations

from django.urls import register_converter

from cascade.lib.limits import MAX_ID


class IdConverter:
    regex = "[0-9]{1,16}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError("no row has this id")
        return number

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")
