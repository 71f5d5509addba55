"""Policy version 1 (administration and commerce open) and the first reason codes."""

from django.db import migrations
from django.utils import timezone

OPEN_VERTICALS = ["government", "commerce", "food_beverage", "retail"]
CRITERIA = [
    "verified_account",
    "open_vertical",
    "audience",
    "independent_development",
    "user_services",
    "good_standing",
]
REASON_CODES = [
    (
        "no_independent_development",
        "No independent development capability",
        "The programme needs an in-house team that builds and runs its own apps or mini programs.",
    ),
    (
        "services_not_user_facing",
        "Services are not user-facing",
        "The mini programs must offer services to users (ordering, payment, booking, customer service, "
        "after-sales), not only advertising.",
    ),
    (
        "vertical_not_open",
        "Vertical not open yet",
        "The programme is not open to this account's vertical yet.",
    ),
    (
        "evidence_insufficient",
        "Evidence insufficient",
        "The evidence provided does not let us confirm the criteria; please add documents or details.",
    ),
    (
        "account_not_verified",
        "Account not verified",
        "The official account must be verified by platform staff before it can be whitelisted.",
    ),
]


def create(apps, schema_editor):
    CriteriaPolicy = apps.get_model("whitelist", "CriteriaPolicy")
    ReasonCode = apps.get_model("whitelist", "ReasonCode")
    Vertical = apps.get_model("accounts", "Vertical")
    if not CriteriaPolicy.objects.filter(version=1).exists():
        policy = CriteriaPolicy.objects.create(
            version=1,
            is_active=not CriteriaPolicy.objects.filter(is_active=True).exists(),
            activated_at=timezone.now(),
            required_criteria=CRITERIA,
            notes="Initial policy: the programme opens to administration and commerce.",
        )
        policy.open_verticals.set(Vertical.objects.filter(code__in=OPEN_VERTICALS))
    for code, title, text in REASON_CODES:
        ReasonCode.objects.get_or_create(code=code, defaults={"title": title, "text": text})


def remove(apps, schema_editor):
    apps.get_model("whitelist", "ReasonCode").objects.filter(code__in=[c for c, _, _ in REASON_CODES]).delete()
    apps.get_model("whitelist", "CriteriaPolicy").objects.filter(version=1, evaluations__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("whitelist", "0001_initial"), ("accounts", "0002_initial_verticals")]

    operations = [migrations.RunPython(create, remove)]
