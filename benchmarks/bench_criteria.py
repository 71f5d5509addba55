"""Row 6 of `make bench`: criteria evaluation over every application, and the policy preview."""

import secrets
import time
from datetime import UTC, datetime

from benchmarks.bench_common import Context, Figure, progress

# ---------------------------------------------------------------------------------------------
# Row 6: criteria evaluation and the policy preview

NAIVE_EVALUATION_SAMPLE = 2_000


def row_criteria(context: "Context") -> list[Figure]:
    from django.db.models import Count

    from accounts.models import User
    from whitelist.criteria import evaluate
    from whitelist.models import (
        ApplicationAttachment,
        EntryState,
        PolicyPreview,
        WhitelistApplication,
        WhitelistEntry,
    )
    from whitelist.selectors import policy_active
    from whitelist.services import (
        _preview_batches,
        facts_of,
        policy_create_version,
        policy_preview_run,
        rules_of,
    )

    rules = rules_of(policy_active())
    applications = WhitelistApplication.objects.select_related("account__vertical")
    total = applications.count()
    progress(f"  row 6: criteria over {total:,} applications ...")
    now = datetime.now(UTC)
    start = time.perf_counter()
    evaluated = 0
    for batch in _preview_batches(applications, batch_size=500):
        attachments = dict(
            ApplicationAttachment.objects.filter(application__in=batch)
            .values("application_id")
            .annotate(count=Count("id"))
            .values_list("application_id", "count")
        )
        revoked = dict(
            WhitelistEntry.objects.filter(account_id__in=[a.account_id for a in batch]).values_list(
                "account_id", "revoked_at"
            )
        )
        for application in batch:
            facts = facts_of(
                application,
                now=now,
                attachment_count=attachments.get(application.pk, 0),
                last_revoked_at=revoked.get(application.account_id),
            )
            evaluate(facts, rules)
            evaluated += 1
    bulk_seconds = time.perf_counter() - start
    bulk_rate = evaluated / bulk_seconds

    # The per-application path: facts_of loads the account, its entry and its attachment count itself.
    sample = list(
        WhitelistApplication.objects.order_by("?").values_list("pk", flat=True)[:NAIVE_EVALUATION_SAMPLE]
    )
    start = time.perf_counter()
    for pk in sample:
        application = WhitelistApplication.objects.get(pk=pk)
        evaluate(facts_of(application, now=now), rules)
    naive_rate = len(sample) / (time.perf_counter() - start)

    progress("  row 6: policy preview over every entry ...")
    staff = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        username=f"bench-{secrets.token_hex(4)}", email="", password=secrets.token_urlsafe(24)
    )
    current = policy_active()
    candidate = policy_create_version(
        actor=staff,
        data={"min_followers": current.min_followers * 2 or 1000},
        open_verticals=None,
    )
    preview = PolicyPreview.objects.create(policy=candidate, compared_with=current, requested_by=staff)
    entries = WhitelistEntry.objects.filter(state=EntryState.ACTIVE).count()
    start = time.perf_counter()
    preview = policy_preview_run(preview=preview)
    preview_seconds = time.perf_counter() - start
    # The same rows one at a time, each loading its own facts (counted once: the second evaluation
    # of the same facts costs little beside the queries).
    naive_preview_seconds = preview.checked / naive_rate
    return [
        Figure(
            row=6,
            measure=f"Criteria evaluations per second over all {evaluated:,} applications",
            project=f"{bulk_rate:,.0f}/s ({bulk_seconds:,.1f} s in all)",
            reference=(
                f"per-application path: {naive_rate:,.0f}/s (sample of {len(sample):,}; "
                f"{evaluated / naive_rate:,.0f} s scaled)"
            ),
            ratio=f"{bulk_rate / naive_rate:,.1f}x",
        ),
        Figure(
            row=6,
            measure=(
                f"Policy preview over all {entries:,} active entries and open applications "
                f"({preview.checked:,} checked, {preview.became_ineligible:,} would lose eligibility)"
            ),
            project=f"{preview_seconds:,.1f} s ({preview.checked / preview_seconds:,.0f} rows/s)",
            reference=f"per-row path, scaled: {naive_preview_seconds:,.0f} s",
            ratio=f"{naive_preview_seconds / preview_seconds:,.1f}x faster",
        ),
    ]
