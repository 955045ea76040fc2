"""What a site may be called: visible text only (no control, bidirectional-override or
zero-width characters that could make one name pass for another), and a bare host name."""

from __future__ import annotations

import re

from cascade.lib.limits import text_problem

NAME_LENGTH, DOMAIN_LENGTH = 200, 253
HOST = r"[\w.-]+(:\d{1,5})?"
HOST_RE = re.compile(f"^{HOST}$")
# The API schema's statement of a domain: a host, or nothing, with spaces around it allowed.
HOST_PATTERN = f"^[ \t\n\r]*({HOST})?[ \t\n\r]*$"
HOST_REFUSAL = "A host name such as example.com, without http:// or paths."


def clean_name(text: str, limit: int = NAME_LENGTH) -> tuple[str, str]:
    """(clean text, error or "")."""
    problem = text_problem(text)
    text = " ".join(text.split())
    if problem:
        return text, f"Use visible characters only: this {problem}."
    if not text:
        return "", "Enter a name."
    if len(text) > limit:
        return text, f"At most {limit} characters."
    return text, ""


def clean_domain(text: str) -> tuple[str, str]:
    """(host name or "", error or ""): a host such as example.com, empty allowed."""
    problem = text_problem(text)
    text = text.strip()
    if problem:
        return text, f"Use visible characters only: this {problem}."
    if not text:
        return "", ""
    if len(text) > DOMAIN_LENGTH or not HOST_RE.match(text):
        return text, HOST_REFUSAL
    return text, ""


def site_fields(name: str, domain: str) -> tuple[str, str, dict[str, str]]:
    """Clean name and domain of a site, and the errors by field (empty when both are fine)."""
    name, name_error = clean_name(name)
    domain, domain_error = clean_domain(domain)
    errors = {k: v for k, v in (("name", name_error), ("domain", domain_error)) if v}
    return name, domain, errors
