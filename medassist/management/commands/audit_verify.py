"""``manage.py audit_verify``: check that no audit event was changed or removed.

Chains whatever is still unchained first (all of it, however old), then recomputes every
link. Exit status 0 and "N events, chain intact" when every link holds; 1 and the first
broken link otherwise. The last line gives the head hash: kept somewhere the database's
administrators cannot write (a ticket, a printout), it also shows later whether events
were removed from the end of the log.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from medassist.services import audit_chain_extend, audit_chain_verify


class Command(BaseCommand):
    help = "Chain the audit log's new events, then verify the whole hash chain."

    def handle(self, *args: Any, **options: Any) -> None:
        audit_chain_extend(everything=True)
        report = audit_chain_verify()
        if report.broken is not None:
            raise CommandError(
                f"Audit chain broken after {report.links} intact events: {report.broken}.",
                returncode=1,
            )
        line = f"{report.links} events, chain intact"
        if report.unchained:
            line += f" ({report.unchained} written during the check, not chained yet)"
        self.stdout.write(line)
        self.stdout.write(f"head {report.head}")
