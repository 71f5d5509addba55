"""Merchant web pages of mini programs: register, link to official accounts, share, preview profiles."""

import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.auth import authenticated_user
from accounts.models import OfficialAccount, User
from accounts.selectors import organization_list_managed_by
from portal.errors import ApplicationError, InvalidInput
from portal.forms import form_add_service_errors
from whitelist.models import EntryState, WhitelistEntry

from . import services
from .forms import MiniProgramForm, ProfileLinkRequestForm
from .models import (
    OPEN_LINK_STATES,
    Capability,
    Category,
    MiniProgram,
    ProfileLink,
    ProfileLinkState,
)
from .permissions import can_share_for, manage_refusal
from .profile import profile_sections
from .quota import QuotaState
from .selectors import miniprogram_list_visible_to, profile_link_list_visible_to, share_quota_states

MINIPROGRAMS_PER_PAGE = 25
SHARE_KEY_PATTERN = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class QuotaRow:
    """An account's shares this hour, as the Share button shows them."""

    used: int
    limit: int
    is_used_up: bool
    next_share_at: str  # hours and minutes in the current (the merchant's) time zone
    minutes_until_next: int
    resets_at: str  # ISO 8601, for the page's live countdown


@dataclass(frozen=True)
class LinkRow:
    link: ProfileLink
    quota: QuotaRow | None
    can_unlink: bool
    can_share: bool
    share_key: str


@dataclass(frozen=True)
class PreviewItem:
    name: str
    category: str
    capabilities: list[str]
    is_this_miniprogram: bool


@dataclass(frozen=True)
class ProfilePreview:
    account: OfficialAccount
    is_shown: bool
    hidden_reason: str
    items: list[PreviewItem]


# Reads and checks shared by the pages


def _miniprogram(request: HttpRequest, pk: int) -> MiniProgram:
    """The mini program if the user may see it; another organization's is a 404, as if it did not exist."""
    return get_object_or_404(miniprogram_list_visible_to(user=authenticated_user(request)), pk=pk)


def _link(request: HttpRequest, miniprogram: MiniProgram, link_id: int) -> ProfileLink:
    links = profile_link_list_visible_to(user=authenticated_user(request), miniprogram_id=miniprogram.pk)
    return get_object_or_404(links, pk=link_id)


def _category_label(value: str) -> str:
    return str(Category(value).label) if value in Category.values else value


def _capability_labels(values: Iterable[str]) -> list[str]:
    return [str(Capability(value).label) if value in Capability.values else value for value in values]


def _link_accounts(miniprogram: MiniProgram) -> QuerySet[OfficialAccount]:
    """The accounts a mini program may be linked to: its organization's."""
    return OfficialAccount.objects.filter(organization_id=miniprogram.organization_id).order_by(
        "screen_name", "id"
    )


def _quota_row(state: QuotaState, now: datetime) -> QuotaRow:
    return QuotaRow(
        used=state.used,
        limit=state.limit,
        is_used_up=state.remaining == 0,
        next_share_at=timezone.localtime(state.resets_at).strftime("%H:%M"),
        minutes_until_next=math.ceil(state.seconds_until_reset(now) / 60),
        resets_at=state.resets_at.isoformat(),
    )


def _link_rows(user: User, miniprogram: MiniProgram, *, can_manage: bool, now: datetime) -> list[LinkRow]:
    links = list(profile_link_list_visible_to(user=user, miniprogram_id=miniprogram.pk))
    # Open links first, in their profile position; then the closed ones, newest first.
    links.sort(key=lambda link: (not link.is_open, link.position if link.is_open else -link.pk))
    can_share = can_share_for(user=user, organization_id=miniprogram.organization_id)
    live_accounts = [link.account_id for link in links if link.state == ProfileLinkState.LIVE]
    quotas = share_quota_states(account_ids=live_accounts, now=now) if live_accounts else {}
    rows = []
    for link in links:
        is_live = link.state == ProfileLinkState.LIVE
        quota = _quota_row(quotas[link.account_id], now) if is_live else None
        rows.append(
            LinkRow(
                link=link,
                quota=quota,
                can_unlink=can_manage and link.is_open,
                can_share=can_share and is_live,
                share_key=uuid.uuid4().hex if can_share and is_live else "",
            )
        )
    return rows


def _hidden_reason(account: OfficialAccount, entry: WhitelistEntry | None, now: datetime) -> str:
    """Why the profile shows no mini programs, or "" while the account's whitelist entry is in force."""
    if entry is None:
        return _("%(account)s is not whitelisted.") % {"account": account.screen_name}
    if entry.is_in_force(now):
        return ""
    if entry.state != EntryState.ACTIVE:
        return _("The whitelist entry of %(account)s is %(state)s.") % {
            "account": account.screen_name,
            "state": EntryState(entry.state).label,
        }
    return _("The whitelist entry of %(account)s expired on %(date)s.") % {
        "account": account.screen_name,
        "date": timezone.localdate(entry.valid_until).isoformat(),
    }


def _profile_previews(miniprogram: MiniProgram, rows: list[LinkRow], now: datetime) -> list[ProfilePreview]:
    """The profile of each account this mini program is live on, read as the public profile reads it."""
    accounts = [row.link.account for row in rows if row.link.state == ProfileLinkState.LIVE]
    if not accounts:
        return []
    entries = {entry.account_id: entry for entry in WhitelistEntry.objects.filter(account__in=accounts)}
    sections = profile_sections((account.platform, account.platform_uid) for account in accounts)
    previews = []
    for account in accounts:
        section = sections[(account.platform, account.platform_uid)] or {}
        if section.get("whitelisted"):
            items = [
                PreviewItem(
                    name=shown["name"],
                    category=_category_label(shown["category"]),
                    capabilities=_capability_labels(shown["capabilities"]),
                    is_this_miniprogram=shown["app_id"] == miniprogram.app_id,
                )
                for shown in section.get("miniprograms", [])
            ]
            previews.append(ProfilePreview(account=account, is_shown=True, hidden_reason="", items=items))
        else:
            reason = _hidden_reason(account, entries.get(account.pk), now) or _(
                "%(account)s is not whitelisted."
            ) % {"account": account.screen_name}
            previews.append(ProfilePreview(account=account, is_shown=False, hidden_reason=reason, items=[]))
    return previews


def _detail_context(
    request: HttpRequest, miniprogram: MiniProgram, *, link_form: ProfileLinkRequestForm | None = None
) -> dict[str, object]:
    user = authenticated_user(request)
    now = timezone.now()
    refusal = manage_refusal(user=user, organization=miniprogram.organization)
    can_manage = not refusal
    rows = _link_rows(user, miniprogram, can_manage=can_manage, now=now)
    return {
        "miniprogram": miniprogram,
        "category": _category_label(miniprogram.category),
        "capabilities": _capability_labels(miniprogram.capabilities),
        "link_form": link_form or ProfileLinkRequestForm(accounts=_link_accounts(miniprogram)),
        "can_request_link": can_manage and miniprogram.is_active,
        "manage_refusal": refusal,
        "link_rows": rows,
        "previews": _profile_previews(miniprogram, rows, now),
    }


def _detail_redirect(miniprogram: MiniProgram, anchor: str = "links") -> HttpResponse:
    return redirect(f"{reverse('miniprograms:detail', args=[miniprogram.pk])}#{anchor}")


# Pages


@login_required
@require_GET
def miniprogram_list(request: HttpRequest) -> HttpResponse:
    user = authenticated_user(request)
    open_links = (
        ProfileLink.objects.filter(state__in=OPEN_LINK_STATES)
        .select_related("account")
        .order_by("account__screen_name", "position")
    )
    miniprograms = miniprogram_list_visible_to(user=user).prefetch_related(
        Prefetch("profile_links", queryset=open_links, to_attr="open_links")
    )
    page = Paginator(miniprograms, MINIPROGRAMS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        (miniprogram, _category_label(miniprogram.category), _capability_labels(miniprogram.capabilities))
        for miniprogram in page.object_list
    ]
    context = {
        "page_obj": page,
        "rows": rows,
        "can_register": organization_list_managed_by(user=user).exists(),
    }
    return render(request, "miniprograms/miniprogram_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def miniprogram_create(request: HttpRequest) -> HttpResponse:
    user = authenticated_user(request)
    organizations = organization_list_managed_by(user=user).order_by("name")
    if not organizations.exists():
        raise PermissionDenied(
            _("Only the owners and admins of an organization can register its mini programs.")
        )
    form = MiniProgramForm(request.POST if request.method == "POST" else None, organizations=organizations)
    if request.method == "POST" and form.is_valid():
        try:
            miniprogram = services.miniprogram_create(
                actor=user, organization=form.chosen_organization(), **form.miniprogram_fields()
            )
        except InvalidInput as error:
            form_add_service_errors(form, error)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("%(name)s is registered. Ask for a link to show it on a whitelisted account's profile.")
                % {"name": miniprogram.name},
            )
            return redirect("miniprograms:detail", pk=miniprogram.pk)
    return render(request, "miniprograms/miniprogram_form.html", {"form": form})


@login_required
@require_GET
def miniprogram_detail(request: HttpRequest, pk: int) -> HttpResponse:
    miniprogram = _miniprogram(request, pk)
    return render(request, "miniprograms/miniprogram_detail.html", _detail_context(request, miniprogram))


# Links and shares


@login_required
@require_POST
def profile_link_request(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask for a link from the detail page; a wrong choice is shown on the form, a refusal as a message."""
    user = authenticated_user(request)
    miniprogram = _miniprogram(request, pk)
    form = ProfileLinkRequestForm(request.POST, accounts=_link_accounts(miniprogram))
    if form.is_valid():
        account = form.cleaned_data["account"]
        try:
            services.profile_link_request(actor=user, miniprogram=miniprogram, account=account)
        except InvalidInput as error:
            form_add_service_errors(form, error)
        except ApplicationError as error:
            messages.error(request, error.message)
            return _detail_redirect(miniprogram)
        else:
            messages.success(
                request,
                _("A link to %(account)s is requested; platform staff will review it.")
                % {"account": account.screen_name},
            )
            return _detail_redirect(miniprogram)
    context = _detail_context(request, miniprogram, link_form=form)
    return render(request, "miniprograms/miniprogram_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def profile_link_unlink(request: HttpRequest, pk: int, link_id: int) -> HttpResponse:
    """GET asks for confirmation; only the POST unlinks."""
    user = authenticated_user(request)
    miniprogram = _miniprogram(request, pk)
    link = _link(request, miniprogram, link_id)
    if request.method == "POST":
        was_live = link.state == ProfileLinkState.LIVE
        try:
            services.profile_link_unlink(actor=user, link=link)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            message = (
                _("%(miniprogram)s is no longer shown on the profile of %(account)s.")
                if was_live
                else _("The request to show %(miniprogram)s on %(account)s is withdrawn.")
            )
            messages.success(
                request, message % {"miniprogram": miniprogram.name, "account": link.account.screen_name}
            )
        return _detail_redirect(miniprogram)
    refusal = manage_refusal(user=user, organization=miniprogram.organization)
    if refusal:
        raise PermissionDenied(refusal)
    if not link.is_open:
        messages.error(
            request,
            _("This link is %(state)s, so it cannot be unlinked.")
            % {"state": ProfileLinkState(link.state).label.lower()},
        )
        return _detail_redirect(miniprogram)
    return render(
        request, "miniprograms/profile_link_unlink.html", {"miniprogram": miniprogram, "link": link}
    )


@login_required
@require_POST
def share_create(request: HttpRequest, pk: int, link_id: int) -> HttpResponse:
    """Share a live mini program from the linked account; a used-up quota says when the next share is."""
    user = authenticated_user(request)
    miniprogram = _miniprogram(request, pk)
    link = _link(request, miniprogram, link_id)
    # Each rendering of the Share button carries its own key, so a double click or a resent form shares once.
    key = request.POST.get("idempotency_key", "")
    try:
        _share, state, replayed = services.share_record(
            actor=user,
            miniprogram=miniprogram,
            account=link.account,
            idempotency_key=key if SHARE_KEY_PATTERN.fullmatch(key) else "",
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        if replayed:
            messages.info(request, _("This share was already recorded; it was not shared again."))
        else:
            messages.success(
                request,
                ngettext(
                    "%(miniprogram)s is shared from %(account)s: %(used)d of %(limit)d share used this hour.",
                    "%(miniprogram)s is shared from %(account)s: "
                    "%(used)d of %(limit)d shares used this hour.",
                    state.limit,
                )
                % {
                    "miniprogram": miniprogram.name,
                    "account": link.account.screen_name,
                    "used": state.used,
                    "limit": state.limit,
                },
            )
    return _detail_redirect(miniprogram)
