"""A site's WordPress connection (contract §9): saved after checking every field, the
application password encrypted and never shown back (only its last characters), and tested by
asking WordPress who the credentials belong to and what that user may do. The settings page and
`PUT/POST sites/{id}/publishing/` both come here."""

from __future__ import annotations

from typing import Any

from cascade.accounts import secrets
from cascade.writer.models import PostStatus, WordPress
from cascade.writer.wordpress import Client, WordPressError, check_url


class ConnectionRefused(ValueError):
    """Some fields cannot be saved; `errors` maps each to the reason."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def describe(site: Any) -> dict[str, Any] | None:
    wp = getattr(site, "wordpress", None)
    if wp is None:
        return None
    return {
        "url": wp.url,
        "username": wp.username,
        "application_password_set": bool(wp.password_encrypted),
        "application_password_hint": wp.password_hint,
        "post_status": wp.post_status,
        "category_from_cluster": wp.category_from_cluster,
    }


def save(site: Any, values: dict[str, Any]) -> WordPress:
    """Connect or change the site's WordPress. An empty application password keeps the stored
    one (it is never shown back, so a form cannot send it again), but only for the same address
    and user name: the password is never sent to another host or as another user than the one
    it was given for."""
    wp = getattr(site, "wordpress", None)
    errors: dict[str, str] = {}
    url = str(values.get("url") or "").strip()
    try:
        url = check_url(url)
    except ValueError as exc:
        errors["url"] = str(exc).removeprefix("url: ")
    if len(url) > 300:
        errors["url"] = "at most 300 characters"
    username = str(values.get("username") or "").strip()
    if not username or len(username) > 150:
        errors["username"] = "the WordPress user name (1 to 150 characters)"
    password = " ".join(str(values.get("application_password") or "").split())
    # The stored password goes only to the address and user name it was given for.
    moved = wp is not None and (url != wp.url or username != wp.username)
    if not password and (wp is None or not wp.password_encrypted) and not moved:
        errors["application_password"] = (
            "create one in WordPress under Users → Profile → Application Passwords"
        )
    elif len(password) > 200:
        errors["application_password"] = "at most 200 characters"
    status = values.get("post_status") or PostStatus.DRAFT
    if status not in PostStatus.values:
        errors["post_status"] = "draft or publish"
    if errors:
        raise ConnectionRefused(errors)
    wp = wp or WordPress(site=site)
    wp.url, wp.username, wp.post_status = url, username, status
    wp.category_from_cluster = bool(values.get("category_from_cluster", True))
    if password:
        wp.password_encrypted, wp.password_hint = secrets.encrypt(password), secrets.hint(password)
    elif moved:
        wp.password_encrypted, wp.password_hint = "", ""
    wp.save()
    site.wordpress = wp
    return wp


def disconnect(site: Any) -> None:
    WordPress.objects.filter(site=site).delete()


def test(site: Any) -> tuple[bool, str]:
    """Ask WordPress who the stored credentials belong to; (worked, what it said)."""
    wp = getattr(site, "wordpress", None)
    if wp is None:
        return False, "No WordPress is connected yet."
    if not wp.password_encrypted:
        return False, "No application password is stored for this address and user: enter it."
    password = secrets.readable(wp.password_encrypted)
    if not password:
        return False, "The application password cannot be read: enter it again."
    try:
        client = Client(wp.url, wp.username, password)
    except ValueError as exc:
        return False, str(exc)
    try:
        me = client.me()
    except WordPressError as exc:
        return False, exc.message
    finally:
        client.close()
    may = me.get("capabilities") or {}
    missing = [
        words
        for cap, words in (("publish_posts", "publish posts"), ("upload_files", "upload media"))
        if not may.get(cap)
    ]
    who = f"Connected to {wp.url} as {me.get('name') or wp.username}"
    if missing:
        return False, f"{who}, but this user may not {' or '.join(missing)}."
    return True, f"{who}; this user may publish posts and upload media."
