"""The merchant's progress through the programme, and what needs the merchant now: reads for the home page.

The checklist: organization → official account → verification → whitelist application → mini program →
profile link → first share. Each step is done, the current one (the first not done), or still to come,
and the current one names the one action that moves it on. Its facts are read in one query.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from django.db.models import Exists, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, OfficialAccount, User, VerificationStatus
from accounts.selectors import organization_ids_of, organization_list_managed_by
from miniprograms.models import MiniProgram, MiniProgramState, ProfileLink, ProfileLinkState, Share
from whitelist.models import ApplicationState, WhitelistApplication, WhitelistEntry
from whitelist.services import EXPIRY_WARNING_DAYS

StepState = Literal["done", "current", "todo"]

# How long a rejected link stays on the home page as something to act on.
REJECTED_LINK_DAYS = 30


@dataclass(frozen=True)
class Step:
    key: str
    title: str | Promise
    state: StepState
    # What the step's state means for the merchant, in a sentence (shown on the current step).
    detail: str | Promise = ""
    action_label: str | Promise = ""
    action_url: str = ""
    # The action changes the organization's data: only its owners and admins are offered it.
    needs_manager: bool = False


@dataclass(frozen=True)
class Progress:
    steps: list[Step]

    @property
    def done(self) -> int:
        return sum(step.state == "done" for step in self.steps)

    @property
    def current(self) -> Step | None:
        return next((step for step in self.steps if step.state == "current"), None)

    @property
    def complete(self) -> bool:
        return self.done == len(self.steps)


def _facts(*, user: User) -> dict[str, bool]:
    """Which steps the user's organizations have reached, in one query."""
    organizations = organization_ids_of(user=user)
    accounts = OfficialAccount.objects.filter(organization__in=organizations)
    links = ProfileLink.objects.filter(account__organization__in=organizations)
    facts = {
        "organization": Membership.objects.filter(user=user),
        # The rule of who may change an organization's data is accounts' own.
        "manages": organization_list_managed_by(user=user),
        "account": accounts,
        "verified": accounts.filter(verification_status=VerificationStatus.VERIFIED),
        "verification_pending": accounts.filter(verification_status=VerificationStatus.PENDING),
        "whitelisted": WhitelistEntry.objects.in_force().filter(account__organization__in=organizations),
        "miniprogram": MiniProgram.objects.filter(
            organization__in=organizations, state=MiniProgramState.ACTIVE
        ),
        "link_pending": links.filter(state=ProfileLinkState.PENDING_REVIEW),
        "link_live": links.filter(state=ProfileLinkState.LIVE),
        "shared": Share.objects.filter(account__organization__in=organizations),
    }
    row = (
        User.objects.filter(pk=user.pk)
        .annotate(**{name: Exists(queryset) for name, queryset in facts.items()})
        .values(*facts)
        .first()
    )
    return {name: bool(row and row[name]) for name in facts}


def _open_application(*, user: User) -> WhitelistApplication | None:
    return (
        WhitelistApplication.objects.filter(
            organization__in=organization_ids_of(user=user),
            state__in=[
                ApplicationState.DRAFT,
                ApplicationState.SUBMITTED,
                ApplicationState.CHANGES_REQUESTED,
            ],
        )
        .only("id", "state")
        .order_by("-id")
        .first()
    )


def _verification_step(*, user: User, facts: dict[str, bool]) -> Step:
    """The verification step as the current one: ask for it, or wait for the staff's answer."""
    title = _("Get the account verified")
    if facts["verified"]:
        return Step("verification", title, "done")
    if facts["verification_pending"]:
        return Step(
            "verification",
            title,
            "current",
            _("Staff are checking your account against the directory; you will get an email."),
        )
    account = (
        OfficialAccount.objects.filter(
            organization__in=organization_ids_of(user=user),
            verification_status__in=[VerificationStatus.UNVERIFIED, VerificationStatus.REJECTED],
        )
        .only("id")
        .order_by("-id")
        .first()
        if facts["account"]
        else None
    )
    return Step(
        "verification",
        title,
        "current",
        _("Ask staff to verify your account; they check it against the platform's directory."),
        _("Request verification") if account else "",
        reverse("accounts:account-edit", args=[account.pk]) + "#verification" if account else "",
        needs_manager=True,
    )


def _application_step(*, user: User, facts: dict[str, bool]) -> Step:
    """The application step as the current one: what the merchant's open application needs."""
    title = _("Apply for the whitelist")
    application = _open_application(user=user) if facts["verified"] and not facts["whitelisted"] else None
    if application is None:
        return Step(
            "application",
            title,
            "current",
            _("Apply with a verified account; the portal checks the criteria as you fill in the form."),
            _("Apply"),
            reverse("whitelist:application-create"),
            needs_manager=True,
        )
    url = reverse("whitelist:application-detail", args=[application.pk])
    detail, label = {
        ApplicationState.SUBMITTED: (
            _("Submitted: staff are reviewing it, and you will get an email with their decision."),
            _("View the application"),
        ),
        ApplicationState.CHANGES_REQUESTED: (
            _("The reviewer asked for changes: edit the application and submit it again."),
            _("Answer the change request"),
        ),
    }.get(
        ApplicationState(application.state),
        (_("Your draft is saved; submit it when the criteria are met."), _("Continue the application")),
    )
    return Step("application", title, "current", detail, label, url)


def merchant_progress(*, user: User) -> Progress:
    """The checklist of a merchant's organizations (any of their accounts counts for a step)."""
    facts = _facts(user=user)
    mini_programs = reverse("miniprograms:list")
    # Each step as it reads when it is the current one, beside whether it is done.
    candidates: list[tuple[bool, Step]] = [
        (
            facts["organization"],
            Step(
                "organization",
                _("Join an organization"),
                "current",
                _("Ask an owner of your organization to add you."),
            ),
        ),
        (
            facts["account"],
            Step(
                "account",
                _("Add an official account"),
                "current",
                _("Register the official account that will show your mini programs."),
                _("Add account"),
                reverse("accounts:account-create"),
                needs_manager=True,
            ),
        ),
        (facts["verified"], _verification_step(user=user, facts=facts)),
        (facts["whitelisted"], _application_step(user=user, facts=facts)),
        (
            facts["miniprogram"],
            Step(
                "miniprogram",
                _("Register a mini program"),
                "current",
                _("Register the mini program with its AppID and capabilities."),
                _("Register a mini program"),
                reverse("miniprograms:create"),
                needs_manager=True,
            ),
        ),
        (
            facts["link_live"],
            Step(
                "link",
                _("Show it on the profile"),
                "current",
                _("Your profile link is waiting for review.")
                if facts["link_pending"]
                else _("Ask for the mini program to be shown on a whitelisted account's profile."),
                _("Open your mini programs"),
                mini_programs,
            ),
        ),
        (
            facts["shared"],
            Step(
                "share",
                _("Share it with your followers"),
                "current",
                _("A share puts the mini program's card in your followers' feeds, once an hour per account."),
                _("Open your mini programs"),
                mini_programs,
            ),
        ),
    ]
    steps: list[Step] = []
    for done, step in candidates:
        if done:
            steps.append(Step(step.key, step.title, "done"))
        elif any(earlier.state == "current" for earlier in steps):
            steps.append(Step(step.key, step.title, "todo"))
        elif step.needs_manager and not facts["manages"]:
            # A plain member reads the way on; the owners and admins take it.
            detail = _("%(what)s Only your organization's owners and admins can do this step.") % {
                "what": step.detail
            }
            steps.append(Step(step.key, step.title, "current", detail))
        else:
            steps.append(step)
    return Progress(steps)


@dataclass(frozen=True)
class Attention:
    """What needs the merchant now, for the cards under the checklist."""

    changes_requested: list[WhitelistApplication]
    expiring: list[WhitelistEntry]
    rejected_links: list[ProfileLink]

    def __bool__(self) -> bool:
        return bool(self.changes_requested or self.expiring or self.rejected_links)


def _first(queryset: QuerySet, limit: int = 5) -> list:
    return list(queryset[:limit])


def merchant_attention(*, user: User) -> Attention:
    organizations = organization_ids_of(user=user)
    now = timezone.now()
    return Attention(
        changes_requested=_first(
            WhitelistApplication.objects.filter(
                organization__in=organizations, state=ApplicationState.CHANGES_REQUESTED
            )
            .select_related("account")
            .order_by("-id")
        ),
        expiring=_first(
            WhitelistEntry.objects.in_force(now)
            .filter(
                account__organization__in=organizations,
                valid_until__lte=now + timedelta(days=EXPIRY_WARNING_DAYS),
            )
            .select_related("account")
            .order_by("valid_until")
        ),
        rejected_links=_first(
            ProfileLink.objects.filter(
                account__organization__in=organizations,
                state=ProfileLinkState.REJECTED,
                decided_at__gte=now - timedelta(days=REJECTED_LINK_DAYS),
            )
            .select_related("account", "miniprogram")
            .order_by("-decided_at")
        ),
    )
