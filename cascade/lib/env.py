"""Tiny readers for settings that come from the environment."""

from __future__ import annotations

import os


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _number(name: str, default: float, kind: type, what: str):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return kind(value)
    except ValueError as exc:
        raise SystemExit(f"{name} must be {what}, got {value!r}") from exc


def env_int(name: str, default: int) -> int:
    return _number(name, default, int, "a whole number")


def env_float(name: str, default: float) -> float:
    return _number(name, default, float, "a number")


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_stage_map(name: str, value: str) -> dict[int, float]:
    """Parse "1:0.05,2:0.3" into {1: 0.05, 2: 0.3}. Stage numbers are checked against the stage
    registry by a system check once the apps are loaded."""
    result: dict[int, float] = {}
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        stage, sep, seconds = part.partition(":")
        try:
            number, amount = int(stage), float(seconds)
        except ValueError:
            number, amount = 0, -1.0
        if not sep or number < 1 or amount < 0:
            raise SystemExit(
                f"{name}: expected entries like '4:1.5' (stage number : seconds ≥ 0), got {part!r}"
            )
        result[number] = amount
    return result
