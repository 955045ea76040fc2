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


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a whole number, got {value!r}") from exc


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a number, got {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_stage_map(name: str, value: str) -> dict[int, float]:
    """Parse "1:0.05,2:0.3" into {1: 0.05, 2: 0.3}; stages are 1-7."""
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
        if not sep or not 1 <= number <= 7 or amount < 0:
            raise SystemExit(
                f"{name}: expected entries like '4:1.5' (stage 1-7 : seconds ≥ 0), got {part!r}"
            )
        result[number] = amount
    return result
