"""No class name or enum word reaches a person. Whatever Cascade shows or sends to people (its
pages, flash messages, a run's activity, email, the command line and the text fields of webhook
bodies) is in words: never a status's raw value (`insufficient_credits`, "(partial)", "…: draft."),
never an exception's class name ("ProviderError: 502 …").

The forbidden words come from the code itself: every value of the product's choices that is an
identifier rather than a word (it has an underscore), every state's raw value where a sentence
would show it bare, and the name of every exception class the running process knows. The texts
come from realistic runs that go wrong: items failing at every attempt and others failing once,
a retry that pauses because the AI provider fails, a cancelled run, a run paused for credits,
refused actions, reviews and a publish that breaks. Every template is also read, so that none
prints a raw status as text."""

from __future__ import annotations

import enum
import functools
import io
import re
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
from django.apps import apps
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models

import cascade
from cascade.accounts import credits
from cascade.ai.base import ProviderError, ProviderRefused
from cascade.ai.local import LocalProvider
from cascade.automation import engine, progress, snapshot
from cascade.automation.models import AutomationRun, RunEvent
from cascade.automation.statuses import ACTIVE, FINISHED, RunOutcome
from cascade.notify import sending
from cascade.planner.importing import import_rows
from cascade.writer import publishing
from cascade.writer.models import Content, ContentStatus
from tests.conftest import DEMO, keywords_of
from tests.providers import PickyProvider
from tests.receivers import RawReceiver, WebhookReceiver

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true"}
EVENTS = ["run.finished", "run.paused", "content.published"]


# --- What may not reach a person, from the code itself -------------------------------------------


def choice_classes() -> list[type[models.TextChoices]]:
    """Every set of choices of the product: statuses, outcomes, reasons, kinds, roles…"""
    found, todo = [], list(models.TextChoices.__subclasses__())
    while todo:
        choices = todo.pop()
        todo += choices.__subclasses__()
        if choices.__module__.startswith("cascade."):
            found.append(choices)
    return found


def states() -> set[str]:
    """The raw values of everything that has a state: a run's, a stage's, an item's, an
    article's, a delivery's (its status, state, outcome or reason)."""
    kinds = ("Status", "State", "Outcome", "Reason")
    return {v for c in choice_classes() if c.__name__.endswith(kinds) for v in c.values}


def exception_names() -> set[str]:
    """The names of the exception classes this process knows (its own, the libraries' and
    Python's) that no sentence would contain: two or more capitals, as in `ConnectError`."""
    names, todo = set(), [BaseException]
    while todo:
        kind = todo.pop()
        todo += kind.__subclasses__()
        if (
            re.fullmatch(r"[A-Z]\w*[a-z]\w*", kind.__name__)
            and sum(ch.isupper() for ch in kind.__name__) > 1
        ):
            names.add(kind.__name__)
    return names


def one_of(words: Iterable[str]) -> str:
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))


@functools.cache
def forbidden() -> dict[str, re.Pattern[str]]:
    """What may not reach a person, by what it is (read once the scenario has loaded what it
    uses, so that every exception class it may meet is known)."""
    identifiers = {v for c in choice_classes() for v in c.values if "_" in v}
    assert {
        "insufficient_credits",
        "nothing_to_do",
        "retry_failed",
        "publish_failed",
    } <= identifiers
    said = one_of(states())
    return {
        "an enum value": re.compile(rf"\b(?:{one_of(identifiers)})\b"),
        "an exception's class name": re.compile(
            rf"\b(?:{one_of(exception_names())})\b"
            r"|\b[A-Z][A-Za-z]*(?:Error|Exception|Refusal|Unavailable)\b"
        ),
        "a raw state in parentheses": re.compile(rf"\((?:{said})\)"),
        "a raw state ending a sentence": re.compile(rf": (?:{said})(?:\.(?!\w)|$)", re.M),
        "one of a plural": re.compile(rf"(?<![\d.,])1\s+(?:{one_of(plurals())})\b"),
    }


def plurals() -> set[str]:
    """What pages count, in the plural: every stage's items and outputs, credits, failures."""
    from cascade.automation.stages import registry

    nouns = {n.many for spec in registry() for n in (spec.noun, spec.makes)}
    return nouns | {"credits", "failures", "items"}


def offences(text: str) -> list[str]:
    """What in `text` is not written for people, each with the words around it."""
    found = []
    for what, pattern in forbidden().items():
        for match in pattern.finditer(text):
            around = text[max(0, match.start() - 50) : match.end() + 50].replace("\n", " ")
            found.append(f"{what} {match[0]!r} in …{around}…")
    return found


# --- What a person sees ------------------------------------------------------------------------


class Visible(HTMLParser):
    """The words of a page that a person reads or hears: its text and the attributes that are
    shown (tooltips, alt text, placeholders) or spoken (ARIA labels, and the title and the
    announcement the page's script takes from data-title and data-announce). Never scripts,
    styles or any other attribute (classes, data, addresses)."""

    SHOWN = frozenset(
        ("title", "alt", "placeholder", "aria-label", "aria-valuetext")
        + ("data-title", "data-announce")
    )

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        self.parts += [value for name, value in attrs if name in self.SHOWN and value]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden and data.strip():
            self.parts.append(" ".join(data.split()))


def visible_text(html: str) -> str:
    parser = Visible()
    parser.feed(html)
    parser.close()
    return "\n".join(parser.parts)


@dataclass
class Seen:
    """Everything people were shown or sent, each text with where it was."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    pages: dict[str, str] = field(default_factory=dict)

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def page(self, where: str, response: Any) -> str:
        assert response.status_code < 500, f"{where}: {response.status_code}"
        self.pages[where] = response.content.decode()
        text = visible_text(self.pages[where])
        self.add(where, text)
        return text

    def payload(self, where: str, doc: Any, key: str = "") -> None:
        """The text fields of a JSON body (its words for people), not its identifiers."""
        if isinstance(doc, dict):
            for name, value in doc.items():
                self.payload(where, value, name)
        elif isinstance(doc, list):
            for value in doc:
                self.payload(where, value, key)
        elif isinstance(doc, str) and re.search(r"(text|message|name|title|label|_time)$", key):
            self.add(f"{where}: {key}", doc)

    def offences(self) -> list[str]:
        return [f"{where}: {o}" for where, text in self.texts for o in offences(text)]

    def html(self, where: str) -> str:
        return self.pages[where]

    def joined(self, where: str) -> str:
        return "\n".join(text for w, text in self.texts if w.startswith(where))


# --- The checks themselves catch what reached people before --------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "10:42:03 Run completed (partial).",
        "“How to Prune Roses”: draft.",
        "Stage 4 · Tomato Care: ProviderError: 502 Bad Gateway from the AI provider",
        "Paused (insufficient_credits).",
        "ConnectError: [Errno 111] Connection refused",
        "Publishing failed after 1 attempt. KeyError: 'id'",
        "Outcome: nothing_to_do",
        "Alice's Garden: partial",
        "Making ≈ 1 articles",
        "1 credits · 0s",
        "1 tasks waiting",
    ],
)
def test_the_checks_catch_what_reached_people_before(text):
    assert offences(text), text


def test_words_for_people_pass_the_checks():
    for text in (
        "Completed with 3 failures",
        "Paused: not enough credits",
        "Tomato Care: attempt 1 failed (503 Service Unavailable from the AI provider); retrying.",
        "“How to Prune Roses” sent back: the next run writes it again.",
        "Failed: 0 of 40 keywords clustered",
        "1 of 21 articles written; 21 articles ready for review; 0.1 credits",
        "The receiver cannot be reached: [Errno 111] Connection refused",
    ):
        assert not offences(text), offences(text)


# --- No template prints a raw status ----------------------------------------------------------


TEMPLATES = sorted(Path(cascade.__file__).parent.glob("**/templates/**/*.html"))
# Printed as text on purpose, with why.
PRINTED = {
    "errors.post_status": "the reason the field was refused, not its value",
}


def enum_fields() -> set[str]:
    """The names under which templates get a raw enum value: the models' fields with choices
    and the snapshot's fields typed with an enum."""
    names = {
        f.name
        for model in apps.get_models()
        if model.__module__.startswith("cascade.")
        for f in model._meta.get_fields()
        if getattr(f, "choices", None)
    }
    for schema in vars(snapshot).values():
        if isinstance(schema, type) and issubclass(schema, snapshot.Frozen):
            for name, info in schema.model_fields.items():
                kinds = (info.annotation, *get_args(info.annotation))
                if any(isinstance(k, type) and issubclass(k, enum.Enum) for k in kinds):
                    names.add(name)
    return names


def printed_as_text(source: str) -> Iterable[tuple[int, str, list[str]]]:
    """Each `{{ … }}` of a template that lands in a page's text (not in a tag's attributes,
    nor in <code>, where an identifier is shown as one): its line, itself and the variables it
    prints (the value and those its filters fall back to)."""

    def blank(comment: re.Match[str]) -> str:
        return "\n" * comment[0].count("\n")  # the lines after it keep their numbers

    source = re.sub(r"\{#.*?#\}", blank, source)
    source = re.sub(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", blank, source, flags=re.S)
    for match in re.finditer(r"\{\{(.*?)\}\}", source):
        before = re.sub(r"\{%.*?%\}", "", source[: match.start()])
        in_tag = before.rfind("<") > before.rfind(">")
        in_code = before.rfind("<code") > before.rfind("</code>")
        if in_tag or in_code:
            continue
        value, *filters = match[1].strip().split("|")
        printed = [value.strip()] + [
            arg
            for f in filters
            if ":" in f and not (arg := f.split(":", 1)[1]).startswith(("'", '"'))
        ]
        yield source.count("\n", 0, match.start()) + 1, match[0], printed


def test_no_template_prints_a_raw_status_as_text():
    fields = enum_fields()
    assert {"status", "state", "outcome", "pause_reason", "trigger"} <= fields
    raw = []
    for template in TEMPLATES:
        for line, expression, printed in printed_as_text(template.read_text()):
            for variable in printed:
                name = variable.rsplit(".", 1)[-1]
                shows_a_value = name in fields or name.endswith(("status", "state", "outcome"))
                if shows_a_value and variable not in PRINTED:
                    raw.append(
                        f"{template.relative_to(Path(cascade.__file__).parent)}:{line}: {expression}"
                    )
    assert len(TEMPLATES) > 20
    assert not raw, "Templates print raw values; show a label instead:\n" + "\n".join(raw)


# --- Runs that go wrong, and everything people are shown of them --------------------------------


class UnsteadyProvider(LocalProvider):
    """An AI service on a bad day. Its content policy refuses about one article in four (the
    titles PickyProvider picks); the first request for clusters, for some clusters' ideas, some
    articles and some pictures fails (a 503, a broken gateway's 502, a library's read timeout)
    and the next one works; and while it is `down` it answers every request with a 503."""

    name = "unsteady"
    down = False
    tried: set[str] = set()
    _lock = threading.Lock()

    def _call(self, key: str, share: int, error: Exception) -> None:
        if self.down:
            raise ProviderError("503 Service Unavailable from the AI provider")
        with self._lock:
            first = key not in self.tried
            self.tried.add(key)
        if first and zlib.crc32(key.encode()) % share == 0:
            raise error

    def cluster_keywords(self, keywords, existing, profile=None, method=""):
        self._call("clusters", 1, ProviderError("503 Service Unavailable from the AI provider"))
        return super().cluster_keywords(keywords, existing, method=method)

    def generate_ideas(self, cluster, count, taken_titles, profile=None):
        self._call(
            f"ideas {cluster.name}",
            2,
            ProviderError("503 Service Unavailable from the AI provider"),
        )
        return super().generate_ideas(cluster, count, taken_titles)

    def write_article(self, brief, profile=None):
        self._call(
            f"article {brief.title}", 3, ProviderError("502 Bad Gateway from the AI provider")
        )
        if PickyProvider.refuses(brief.title):
            raise ProviderRefused("Your request was rejected as a result of our safety system.")
        return super().write_article(brief)

    def render_image(self, prompt, width, height, profile=None):
        self._call(f"picture {prompt}", 4, httpx.ReadTimeout("The read operation timed out"))
        return super().render_image(prompt, width, height)


def json_answer(body: bytes):
    """A receiver's behaviour: every request is answered 200 with this JSON."""

    def behave(receiver: RawReceiver, connection: Any) -> None:
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
            "\r\nConnection: close\r\n\r\n"
        )
        receiver.write(connection, head.encode() + body)

    return behave


@pytest.fixture
def unhappy(settings, site, alice, client):
    """Alice, logged in, her site on an unsteady AI service, notices going to a webhook that
    answers, one that is down, and to her by email."""
    settings.CASCADE_AI_PROVIDER = "tests.test_words_for_people.UnsteadyProvider"
    UnsteadyProvider.tried.clear()
    UnsteadyProvider.down = False
    # A few first attempts failing in a row are no outage; a provider that is down is one.
    settings.CASCADE_PROVIDER_FAILURE_LIMIT = 12
    settings.CASCADE_WEBHOOKS_ALLOW_PRIVATE = True
    settings.CASCADE_WEBHOOK_RETRY_SECONDS = 0  # a failed delivery is given up at once
    settings.CASCADE_EMAIL_ENABLED = True
    settings.CASCADE_PUBLISH_ALLOW_PRIVATE = True
    settings.CASCADE_PUBLISH_ATTEMPTS = 1
    mail.outbox = []
    client.force_login(alice)
    receiver, down = WebhookReceiver().up(), WebhookReceiver()
    yield site, client, receiver, down
    receiver.down()


def cli(*args: str) -> str:
    """What `cascade automation …` prints, refusals included."""
    out = io.StringIO()
    try:
        call_command("automation", *args, stdout=out, stderr=out)
    except CommandError as refusal:
        out.write(str(refusal))
    except SystemExit:
        pass  # `run --wait` exits 1 for work that did not all succeed
    return out.getvalue()


def cli_run_and_wait(site) -> str:
    """`cascade automation run --wait`, the run processed by the command's own worker; a run
    that does not end in time is cancelled (so the command returns) and the test fails."""
    stuck = threading.Event()

    def cancel_active() -> None:
        stuck.set()
        for run in AutomationRun.objects.filter(site=site, status__in=ACTIVE):
            engine.cancel_run(run.pk)

    watchdog = threading.Timer(240, cancel_active)
    watchdog.start()
    try:
        out = cli("run", "--site", str(site.pk), "--wait")
    finally:
        watchdog.cancel()
    assert not stuck.is_set(), f"the run did not end:\n{out}"
    return out


def action(client, site, name: str, run: AutomationRun | None = None):
    """An htmx action of the Automation page; its answer is the flash message."""
    data = {"run_id": str(run.pk)} if run else {}
    return client.post(f"/sites/{site.pk}/automation/actions/{name}/", data, headers=HTMX)


def send_due() -> None:
    """Send every delivery and email that is due, as a worker does."""
    while sending.send_once():
        pass


def review_and_publish(seen: Seen, client, site, broken_wordpress: str) -> None:
    """Approve, reject, send back and publish articles, one at a time and in bulk, the refused
    ways too; the publish goes to a WordPress that answers something unexpected."""
    a, b, c, d = Content.objects.filter(site=site, status=ContentStatus.REVIEW).order_by("id")[:4]

    def act(article: Content, **data: str) -> None:
        url = f"/sites/{site.pk}/content/{article.pk}/?tab=review"
        seen.page(f"flash of {data['action']}", client.post(url, data, follow=True))

    act(a, action="approve")
    act(a, action="approve")  # refused: approved already
    act(b, action="reject", reason="Too thin on watering.")
    act(c, action="rewrite", note="Under 800 words, please.")
    act(c, action="publish")  # refused: no WordPress yet
    bulk = {"action": "approve", "ids": [c.pk, d.pk], "back": "status=review"}
    seen.page(
        "flash of a bulk approve", client.post(f"/sites/{site.pk}/content/", bulk, follow=True)
    )
    connect = {"url": broken_wordpress, "username": "editor", "post_status": "draft"}
    connect["application_password"] = "abcd efgh ijkl mnop"
    answer = client.post(f"/sites/{site.pk}/settings/publishing/", connect, follow=True)
    seen.page("flash of connecting WordPress", answer)
    act(a, action="publish")
    assert publishing.work_once()
    assert Content.objects.get(pk=a.pk).status == ContentStatus.PUBLISH_FAILED


def every_page(seen: Seen, client, site) -> None:
    """The pages of the site, its runs and articles, the Sites overview and the Account page."""
    base = f"/sites/{site.pk}"
    for path in ("/sites/", "/account/", f"{base}/automation/", f"{base}/keywords/"):
        seen.page(path, client.get(path))
    for path in ("clusters/", "ideas/", "settings/", "settings/notifications/"):
        seen.page(f"{base}/{path}", client.get(f"{base}/{path}"))
    seen.page(f"{base}/settings/publishing/", client.get(f"{base}/settings/publishing/"))
    for run in AutomationRun.objects.filter(site=site):
        detail = f"{base}/automation/runs/{run.pk}/"
        seen.page(detail, client.get(detail))
        seen.page(f"{detail}?state=failed", client.get(f"{detail}?state=failed"))
    for status in ContentStatus.values:
        seen.page(
            f"{base}/content/?status={status}", client.get(f"{base}/content/?status={status}")
        )
        article = Content.objects.filter(site=site, status=status).first()
        if article is not None:
            path = f"{base}/content/{article.pk}/?tab={status}"
            seen.page(path, client.get(path))


def steer_retry_and_cancel(seen: Seen, client, site, first: AutomationRun) -> None:
    """Steering a finished run is refused. Its failed items are retried while the provider is
    down: the retry pauses, Run Now is refused meanwhile, and the retry is cancelled. The
    provider is back for the next retry, whose articles are all refused again: it fails."""
    for name in ("pause", "resume", "cancel"):
        seen.page(f"flash of {name} on a finished run", action(client, site, name, first))
    UnsteadyProvider.down = True
    seen.page("flash of retry failed", action(client, site, "retry_failed", first))
    retry = AutomationRun.objects.exclude(pk=first.pk).get(site=site)
    seen.page("flash of Run Now beside an active run", action(client, site, "run-now"))
    engine.run_until_idle(timeout=120)
    retry.refresh_from_db()
    assert (retry.status, retry.pause_reason) == ("paused", "provider_unavailable")
    seen.page("Automation page, provider paused", client.get(f"/sites/{site.pk}/automation/"))
    seen.add("cascade automation status, provider paused", cli("status", "--site", str(site.pk)))
    seen.add("cascade automation run beside an active run", cli("run", "--site", str(site.pk)))
    seen.page("flash of cancel", action(client, site, "cancel", retry))
    retry.refresh_from_db()
    assert retry.outcome == RunOutcome.CANCELLED
    seen.add("cascade automation cancel, none active", cli("cancel", "--site", str(site.pk)))
    UnsteadyProvider.down = False
    seen.page("flash of retry failed again", action(client, site, "retry_failed", first))
    engine.run_until_idle(timeout=120)
    again = AutomationRun.objects.filter(site=site).order_by("-created_at").first()
    assert again.outcome == RunOutcome.FAILED, again.status
    seen.page("Automation page after a failed run", client.get(f"/sites/{site.pk}/automation/"))


def run_out_of_credits(seen: Seen, client, site) -> None:
    """New keywords and no credits: Run Now is refused; with a few, the run pauses for more."""
    import_rows(site, keywords_of(DEMO)[40:60])
    credits.set_balance(site.account, 0)
    seen.page("flash of Run Now without credits", action(client, site, "run-now"))
    credits.set_balance(site.account, 5)
    seen.page("flash of Run Now", action(client, site, "run-now"))
    engine.run_until_idle(timeout=120)
    paused = AutomationRun.objects.filter(site=site).order_by("-created_at").first()
    assert (paused.status, paused.pause_reason) == ("paused", "insufficient_credits")
    seen.page("Automation page, out of credits", client.get(f"/sites/{site.pk}/automation/"))
    seen.add("cascade automation status, out of credits", cli("status", "--site", str(site.pk)))
    seen.add("cascade automation pause, paused", cli("pause", "--site", str(site.pk)))


def test_what_people_see_of_runs_that_go_wrong_is_in_words(unhappy):
    site, client, receiver, down = unhappy
    seen = Seen()
    notifications = f"/sites/{site.pk}/settings/notifications/"
    for url in (receiver.url, down.url):
        seen.page("adding a webhook", client.post(notifications, {"url": url, "events": EVENTS}))
    opt_in = {"email": "on", "address": "alice@example.com"}
    seen.page("flash of email", client.post(notifications + "email/", opt_in, follow=True))

    # From the command line: some articles are refused, other items fail once.
    seen.add("cascade automation run --wait", cli_run_and_wait(site))
    first = AutomationRun.objects.get(site=site)
    assert first.outcome == RunOutcome.PARTIAL, first.status_message
    seen.add("cascade automation status", cli("status", "--site", str(site.pk)))
    seen.page("Automation page after a partial run", client.get(f"/sites/{site.pk}/automation/"))
    wordpress = RawReceiver(json_answer(b"[{}]"))  # a WordPress that answers nonsense
    try:
        review_and_publish(seen, client, site, wordpress.url)
    finally:
        wordpress.close()
    steer_retry_and_cancel(seen, client, site, first)
    run_out_of_credits(seen, client, site)

    # The notices go out; then every page, every event of every run, every email and the
    # words of every webhook body.
    send_due()
    every_page(seen, client, site)
    for message in RunEvent.objects.filter(run__site=site).values_list("message", flat=True):
        seen.add("activity", message)
    for email in mail.outbox:
        seen.add("email", f"{email.subject}\n{email.body}")
    for got in receiver.received:
        seen.payload(f"webhook {got.headers['x-cascade-event']}", got.json)

    # What went wrong is all there to be read…
    activity = seen.joined("activity")
    assert "attempt 1 failed" in activity and "retrying" in activity
    assert "503 Service Unavailable" in activity and "502 Bad Gateway" in activity
    assert "The read operation timed out" in activity and "refused the request" in activity
    assert "Completed with" in seen.joined("cascade automation run --wait")
    assert "cannot be" in seen.joined("flash of pause on a finished run")
    assert "already active" in seen.joined("flash of Run Now beside")
    assert "Not enough credits" in seen.joined("flash of Run Now without credits")
    assert len(mail.outbox) >= 4 and len(receiver.received) >= 4
    assert "Failed" in seen.joined(notifications) and "Delivered" in seen.joined(notifications)
    assert "Publishing failed" in seen.joined(f"/sites/{site.pk}/content/")
    # …the Sites overview says how the last run went in the Automation page's words…
    last = AutomationRun.objects.filter(site=site, status__in=FINISHED).latest("finished_at")
    cell = re.search(r'data-testid="site-last">(.*?)</td>', seen.html("/sites/"), re.S)[1]
    assert progress.build_snapshot(last)["run"]["status_text"] in visible_text(cell)
    # …and all of it is in words.
    assert not seen.offences(), "Not words for people:\n" + "\n".join(seen.offences())


def test_a_run_of_one_of_everything_is_counted_in_the_singular(garden, alice, client):
    """A site with one keyword: one cluster, idea, task, article and picture, one credit here
    and there. The Automation page and the run's page say "1 article", never "1 articles"."""
    from cascade.accounts.models import Site
    from cascade.automation import config
    from tests.conftest import run_to_end

    site = Site.objects.create(account=garden, name="One of each")
    import_rows(site, [{"keyword": "how to sharpen a garden hoe"}])
    config.save(site, {"ideas_per_cluster": 1, "images_per_content": 0})
    run = run_to_end(site)
    assert run.outcome == "succeeded"
    client.force_login(alice)
    seen = Seen()
    seen.page("the Automation page", client.get(f"/sites/{site.pk}/automation/"))
    seen.page("the run's page", client.get(f"/sites/{site.pk}/automation/runs/{run.run_id}/"))
    assert re.search(r"\b1\s+article written", seen.joined("the Automation page"))
    assert not seen.offences(), seen.offences()
