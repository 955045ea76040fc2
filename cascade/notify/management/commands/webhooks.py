from __future__ import annotations

from django.core.management.base import CommandError

from cascade.accounts.models import Site
from cascade.lib.commands import Command as CascadeCommand
from cascade.notify import webhooks
from cascade.notify.models import Delivery, Webhook


class Command(CascadeCommand):
    help = "Add, list and remove a site's webhooks (signed POSTs when runs finish or pause)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        actions = {
            "add": "add a webhook; prints its secret once",
            "list": "the site's webhooks and their last deliveries",
            "remove": "remove a webhook",
        }
        parsers = {name: sub.add_parser(name, help=text) for name, text in actions.items()}
        for each in parsers.values():
            each.add_argument("--site", type=int, required=True)
        parsers["add"].add_argument("url", help="http:// or https:// address that receives POSTs")
        parsers["add"].add_argument(
            "--events",
            default=",".join(webhooks.EVENTS),
            help=f"comma-separated, from {', '.join(webhooks.EVENTS)} (default: all)",
        )
        parsers["remove"].add_argument("id", type=int)

    def handle(self, action, site, **options):
        target = Site.objects.filter(pk=site).first()
        if target is None:
            raise CommandError(f"Site {site} does not exist.")
        if action == "add":
            events = [e.strip() for e in options["events"].split(",") if e.strip()]
            try:
                hook, secret = webhooks.add(target, options["url"], events)
            except webhooks.BadWebhook as exc:
                raise CommandError(f"{exc.field}: {exc.message}") from None
            self.stdout.write(f"Webhook {hook.pk} added: {hook.url} ({', '.join(hook.events)})")
            self.stdout.write(f"Secret (shown once; it signs every delivery): {secret}")
        elif action == "list":
            hooks = list(Webhook.objects.filter(site=target))
            if not hooks:
                self.stdout.write(f"Site {target.pk} has no webhooks.")
            for hook in hooks:
                last = Delivery.objects.filter(webhook=hook).first()
                seen = f"last delivery {last.event} {last.status}" if last else "no deliveries yet"
                self.stdout.write(f"{hook.pk}  {hook.url}  {', '.join(hook.events)}  ({seen})")
        else:
            deleted, _ = Webhook.objects.filter(site=target, pk=options["id"]).delete()
            if not deleted:
                raise CommandError(f"Site {target.pk} has no webhook {options['id']}.")
            self.stdout.write(f"Webhook {options['id']} removed.")
