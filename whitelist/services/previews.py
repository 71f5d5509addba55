"""The policy preview: what activating a version would change, asked for and computed in batches."""

from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.permissions import ensure_staff

from ..constants import Recommendation
from ..criteria import evaluate
from ..models import (
    OPEN_APPLICATION_STATES,
    ApplicationAttachment,
    CriteriaPolicy,
    EntryState,
    PolicyPreview,
    PreviewStatus,
    WhitelistApplication,
    WhitelistEntry,
)
from ..selectors import policy_active
from .evaluations import facts_of, rules_of

PREVIEW_LIST_LIMIT = 500
PREVIEW_BATCH_SIZE = 500


def _passes(recommendation: str) -> bool:
    """An application "passes" a policy when no required criterion fails (eligible or needs review)."""
    return recommendation != Recommendation.INELIGIBLE


@transaction.atomic
def policy_preview_request(*, actor: User, policy: CriteriaPolicy) -> PolicyPreview:
    """Ask for the impact of activating a policy version; a Celery task computes it after commit."""
    from ..tasks import run_policy_preview

    ensure_staff(user=actor)
    active = policy_active()
    preview = PolicyPreview.objects.create(policy=policy, compared_with=active, requested_by=actor)
    transaction.on_commit(lambda: run_policy_preview.delay(preview_id=preview.pk), robust=True)
    return preview


def _preview_batches(queryset: QuerySet[Any], *, batch_size: int) -> Iterator[list[Any]]:
    last_pk = 0
    while True:
        batch = list(queryset.filter(pk__gt=last_pk).order_by("pk")[:batch_size])
        if not batch:
            return
        yield batch
        last_pk = batch[-1].pk


def policy_preview_run(*, preview: PolicyPreview, batch_size: int = PREVIEW_BATCH_SIZE) -> PolicyPreview:
    """Evaluate every active entry's grant and every open application under both policies, in batches."""
    PolicyPreview.objects.filter(pk=preview.pk).update(status=PreviewStatus.RUNNING)
    current = rules_of(preview.compared_with)
    candidate = rules_of(preview.policy)
    now = timezone.now()
    entries = WhitelistEntry.objects.filter(state=EntryState.ACTIVE).select_related(
        "application__account__vertical"
    )
    applications = WhitelistApplication.objects.filter(state__in=OPEN_APPLICATION_STATES).select_related(
        "account__vertical"
    )
    total = entries.count() + applications.count()
    checked = lost = gained = 0
    changes: list[dict[str, Any]] = []
    PolicyPreview.objects.filter(pk=preview.pk).update(total=total)
    try:
        for kind, queryset in (("entry", entries), ("application", applications)):
            for batch in _preview_batches(queryset, batch_size=batch_size):
                granting = [row.application if kind == "entry" else row for row in batch]
                attachment_counts = dict(
                    ApplicationAttachment.objects.filter(application__in=granting)
                    .values("application_id")
                    .annotate(count=Count("id"))
                    .values_list("application_id", "count")
                )
                revoked = dict(
                    WhitelistEntry.objects.filter(
                        account_id__in=[a.account_id for a in granting]
                    ).values_list("account_id", "revoked_at")
                )
                for row, application in zip(batch, granting, strict=True):
                    facts = facts_of(
                        application,
                        now=now,
                        attachment_count=attachment_counts.get(application.pk, 0),
                        last_revoked_at=revoked.get(application.account_id),
                    )
                    before = evaluate(facts, current)[1]
                    after = evaluate(facts, candidate)[1]
                    if _passes(before) != _passes(after):
                        if _passes(before):
                            lost += 1
                        else:
                            gained += 1
                        if len(changes) < PREVIEW_LIST_LIMIT:
                            changes.append(
                                {
                                    "kind": kind,
                                    "id": row.pk,
                                    "account": application.account.screen_name,
                                    "platform_uid": application.account.platform_uid,
                                    "before": before,
                                    "after": after,
                                }
                            )
                checked += len(batch)
                PolicyPreview.objects.filter(pk=preview.pk).update(
                    checked=checked, became_ineligible=lost, became_eligible=gained
                )
    except Exception as exc:
        PolicyPreview.objects.filter(pk=preview.pk).update(
            status=PreviewStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    PolicyPreview.objects.filter(pk=preview.pk).update(
        status=PreviewStatus.DONE,
        checked=checked,
        became_ineligible=lost,
        became_eligible=gained,
        changes=changes,
        finished_at=timezone.now(),
    )
    preview.refresh_from_db()
    return preview
