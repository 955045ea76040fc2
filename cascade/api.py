"""The JSON API at /api/v1: one NinjaAPI that mounts each app's router."""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

from csp.decorators import csp_exempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer

from cascade.accounts.models import ApiToken, hash_token
from cascade.automation.engine import EngineRefusal


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        # The token's user (unless the token expired), with the token's id and whether its last
        # use is over a minute old, in one query written in SQL: this runs on every API call,
        # and the ORM's building of the join cost five times it.
        now = timezone.now()
        adapt = connection.ops.adapt_datetimefield_value
        a_minute_ago = adapt(now - dt.timedelta(seconds=60))
        user: Any = next(
            iter(
                get_user_model().objects.raw(
                    _token_sql(), [a_minute_ago, hash_token(token), adapt(now)]
                )
            ),
            None,
        )
        if user is None or not user.is_active:
            return None
        if user.token_stale:
            ApiToken.objects.filter(pk=user.token_pk).update(last_used_at=now)
        request.user = user
        return user


@functools.cache
def _token_sql() -> str:
    q = connection.ops.quote_name
    users, tokens = q(get_user_model()._meta.db_table), q(ApiToken._meta.db_table)
    return (
        "SELECT u.*, t.id AS token_pk, "
        "(t.last_used_at IS NULL OR t.last_used_at < %s) AS token_stale "
        f"FROM {tokens} t JOIN {users} u ON u.id = t.user_id WHERE t.digest = %s "
        "AND (t.expires_at IS NULL OR t.expires_at > %s)"
    )


class Session(APIKeyCookie):
    """The browser's Django session (with its CSRF check on unsafe methods). Without a logged-in
    session there is nothing to check: the answer is 401, not a CSRF failure."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None):
        return request.user if key and request.user.is_authenticated else None


class CascadeAPI(NinjaAPI):
    def validation_error_from_error_contexts(self, error_contexts: list[Any]) -> ValidationError:
        """Ninja's, keeping a short account of a refused value (`sent`) for the message."""
        error = super().validation_error_from_error_contexts(error_contexts)
        inputs = [
            i.get("input") for c in error_contexts for i in c.pydantic_validation_error.errors()
        ]
        for item, sent in zip(error.errors, inputs, strict=False):
            if isinstance(sent, str | int | float | bool):
                item["sent"] = repr(sent)[:80]
        return error


api = CascadeAPI(
    title="Cascade API",
    version="1",
    urls_namespace="api",
    auth=[BearerToken(), Session()],
    docs_url="/docs",
    # Swagger UI starts from an inline script: the docs page alone is exempt from the CSP.
    docs_decorator=csp_exempt(),
    openapi_url="/openapi.json",
)


def _field(loc: list) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "payload", "form")]
    return ".".join(parts) or "request"


# Pydantic's names for the branches of a union (`int | None`), which are not fields.
BRANCHES = {"none", "int", "str", "bool", "float", "list", "dict"}


def _branch(part: object) -> bool:
    return isinstance(part, str) and (part in BRANCHES or "[" in part or "-" in part)


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: list[dict[str, str]] = []
    for e in exc.errors:
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if e.get("type") in ("literal_error", "enum"):  # say what was sent
            sent = e.get("sent", "this")
            message = f"{sent} is not one of {e.get('ctx', {}).get('expected')}"
        path = _field([p for p in e.get("loc", []) if not _branch(p)]).split(".")
        field = path[0]
        if len(path) > 1:  # an item of a list or a value of an object
            message = f"{'.'.join(path[1:])}: {message}"
        if field == "request" and re.match(r"^\w+: ", message):  # a body-wide check's
            field, message = message.split(": ", 1)
        if message == "Input should be None" or any(x["field"] == field for x in errors):
            continue  # the other branch of an optional field says what is wrong
        errors.append({"field": field, "message": message})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid input."
    return api.create_response(request, {"detail": detail, "errors": errors}, status=422)


@api.exception_handler(AuthenticationError)
def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request,
        {"detail": "Authentication required: log in or send 'Authorization: Bearer <token>'."},
        status=401,
    )


@api.exception_handler(EngineRefusal)
def engine_refusal(request: HttpRequest, exc: EngineRefusal) -> HttpResponse:
    return api.create_response(request, {"detail": exc.detail, **exc.extra}, status=exc.status)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


def _mount() -> None:
    from cascade.accounts.api import router as sites_router
    from cascade.accounts.ledger_api import router as ledger_router
    from cascade.automation.api import router as automation_router
    from cascade.automation.settings_api import router as automation_settings_router
    from cascade.automation.settings_api import sites_router as site_settings_router
    from cascade.notify.api import router as webhooks_router
    from cascade.planner.api import router as planner_router
    from cascade.writer.api import router as writer_router
    from cascade.writer.publishing_api import router as publishing_router

    api.add_router("/v1/automation/", automation_router, tags=["automation"])
    api.add_router("/v1/automation/", automation_settings_router, tags=["automation"])
    api.add_router("/v1/sites/", sites_router, tags=["sites"])
    api.add_router("/v1/accounts/", ledger_router, tags=["accounts"])
    api.add_router("/v1/sites/", site_settings_router, tags=["sites"])
    api.add_router("/v1/sites/", planner_router, tags=["keywords, clusters, ideas"])
    api.add_router("/v1/sites/", writer_router, tags=["tasks, content, images"])
    api.add_router("/v1/sites/", publishing_router, tags=["tasks, content, images"])
    api.add_router("/v1/sites/", webhooks_router, tags=["webhooks"])


_mount()
