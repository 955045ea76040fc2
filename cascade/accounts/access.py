"""Who may see and change a site: one lookup used by every API endpoint and page."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F
from django.http import HttpRequest
from ninja.errors import HttpError

from cascade.accounts.models import CAN_OPERATE, Membership, Site


def site_and_role(user, site_id: int) -> tuple[Site | None, str | None]:
    """The site and the user's role in its account, or (None, None) when it is not theirs."""
    if not user.is_authenticated:
        return None, None
    # One query, written out because it runs on every API call: the site with the caller's
    # role in its account (no row: the site is not theirs).
    sites = list(
        Site.objects.raw(
            f"SELECT s.*, m.role AS member_role FROM {Site._meta.db_table} s "
            f"JOIN {Membership._meta.db_table} m ON m.account_id = s.account_id AND m.user_id = %s "
            "WHERE s.id = %s",
            [user.pk, site_id],
        )
    )
    if not sites:
        return None, None
    return sites[0], getattr(sites[0], "member_role", None)


def site_for(request: HttpRequest, site_id: int, *, operate: bool = False) -> Site:
    """The site if the caller's account owns it (else 404, revealing nothing); with `operate`,
    403 unless the caller's role may start and steer work."""
    site, role = site_and_role(request.user, site_id)
    if site is None:
        raise HttpError(404, f"Site {site_id} not found.")
    if operate and role not in CAN_OPERATE:
        raise HttpError(403, f"Your role ({role}) may watch this site but not change it.")
    return site


def sites_of(user, with_keyword_counts: bool = False) -> list[Site]:
    """The sites of the user's accounts (with their keywords counted in the same query)."""
    sites = (
        Site.objects.filter(account__memberships__user=user)
        .select_related("account", "wordpress")
        .annotate(member_role=F("account__memberships__role"))
    )
    if with_keyword_counts:
        sites = sites.annotate(keyword_count=Count("keywords"))
    return list(sites.order_by("name", "id"))


def role_in(user, account_id: int) -> str | None:
    return (
        Membership.objects.filter(user=user, account_id=account_id)
        .values_list("role", flat=True)
        .first()
    )


def add_site_list(
    router: Any, path: str, model: Any, schema: Any, defer: tuple[str, ...] = ()
) -> None:
    """Register `GET sites/{id}/<path>/` on an API router: the site's rows of `model`, oldest
    first, paginated with limit/offset and filterable by `status` (contract §6)."""
    from typing import Literal, Optional

    from ninja.pagination import paginate

    from cascade.lib.paging import Paging
    from cascade.lib.schemas import READ_ERRORS

    statuses = tuple(value for value, _ in model._meta.get_field("status").choices)

    def listing(request: HttpRequest, site_id: int, status: str | None = None):
        rows = model.objects.filter(site=site_for(request, site_id)).order_by("id").defer(*defer)
        return rows.filter(status=status) if status else rows

    # The statuses are the schema's enum: a request the schema calls valid is answered.
    listing.__annotations__ = {
        "request": HttpRequest,
        "site_id": int,
        "status": Optional[Literal[statuses]],  # noqa: UP045
    }
    router.get(
        f"{{id:site_id}}/{path}/",
        response={200: list[schema], **READ_ERRORS},
        operation_id=f"list_{path}",
        summary=f"List the site's {path}",
    )(paginate(Paging)(listing))


def memberships_of(user: Any) -> Any:
    """The user's memberships with their accounts (a query set)."""
    return Membership.objects.filter(user_id=user.pk).select_related("account")


def page_site(request: HttpRequest, site_id: int) -> tuple[Site, bool]:
    """For pages: the site and whether the caller may change it; 404 when it is not theirs.
    The caller's sites are read once, for this and for the site switcher (`navigation`)."""
    from django.http import Http404

    sites = sites_of(request.user)
    request.cascade_sites = sites  # type: ignore[attr-defined]
    site = next((s for s in sites if s.pk == site_id), None)
    if site is None:
        raise Http404("No such site.")
    return site, getattr(site, "member_role", None) in CAN_OPERATE


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Template context: the caller's sites for the switcher, read only if a page shows it."""
    from django.utils.functional import SimpleLazyObject

    if not request.user.is_authenticated:
        return {}
    known = getattr(request, "cascade_sites", None)
    return {
        "sites": known if known is not None else SimpleLazyObject(lambda: sites_of(request.user))
    }
