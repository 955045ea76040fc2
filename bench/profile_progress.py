"""Where an in-process run_progress call spends its time (pyinstrument), at 50,000 keywords."""

from __future__ import annotations

import sys

from common import setup_django


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from pyinstrument import Profiler
    from snapshot_reads import in_flight

    from cascade.accounts.models import ApiToken, Membership

    site = in_flight(int(sys.argv[1]) if len(sys.argv) > 1 else 50000)
    user = get_user_model().objects.create_user("profile")
    Membership.objects.create(user=user, account=site.account, role="owner")
    _, token = ApiToken.issue(user)
    client = Client(headers={"Authorization": f"Bearer {token}"})
    client.get(f"/api/v1/automation/run_progress/?site_id={site.pk}")
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(300):
        client.get(f"/api/v1/automation/run_progress/?site_id={site.pk}")
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
