"""Staff screens for users, organizations, verticals and official accounts."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.admin_pagination import LargeTableAdmin
from portal.auth import authenticated_user

from .models import Membership, OfficialAccount, Organization, User, VerificationStatus, Vertical
from .services import official_account_set_verification, official_accounts_mark_verified


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class UserMembershipInline(MembershipInline):
    autocomplete_fields = ["organization"]
    fields = ["organization", "role", "created_at"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = [UserMembershipInline]
    list_display = ["username", "email", "is_staff", "is_active", "date_joined", "last_login"]
    readonly_fields = ["welcome_email_sent_at", "email_confirmed_at"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (_("Preferences"), {"fields": ("language", "time_zone")}),
        (_("Notifications"), {"fields": ("email_confirmed_at", "welcome_email_sent_at")}),
    )


@admin.register(Organization)
class OrganizationAdmin(LargeTableAdmin):
    inlines = [MembershipInline]
    list_display = ["name", "kind", "unified_social_credit_code", "created_at"]
    # Not date_hierarchy: it lists the years found, a scan of the whole table on every load.
    list_filter = ["kind", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["name", "unified_social_credit_code"]


@admin.register(Vertical)
class VerticalAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "created_at"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Vertical | None = None) -> list[str]:
        # The code is referenced by imports and the API; it does not change once created.
        return ["code"] if obj else []


@admin.register(OfficialAccount)
class OfficialAccountAdmin(LargeTableAdmin):
    list_display = [
        "screen_name",
        "platform",
        "platform_uid",
        "organization",
        "kind",
        "vertical",
        "followers_count",
        "verification_status",
        "verified_at",
    ]
    list_filter = ["verification_status", "kind", "vertical", "platform"]
    list_select_related = ["organization", "vertical"]
    search_fields = ["screen_name", "=platform_uid", "organization__name"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["verification_status", "verified_at", "created_at", "updated_at"]
    actions = ["mark_verified", "mark_rejected"]

    @admin.action(description=_("Mark selected accounts verified"), permissions=["change"])
    def mark_verified(self, request: HttpRequest, queryset: QuerySet[OfficialAccount]) -> None:
        count = official_accounts_mark_verified(actor=authenticated_user(request), accounts=queryset)
        self.message_user(
            request,
            ngettext("%(count)d account marked verified.", "%(count)d accounts marked verified.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Reject verification of selected accounts"), permissions=["change"])
    def mark_rejected(self, request: HttpRequest, queryset: QuerySet[OfficialAccount]) -> None:
        count = 0
        for account in queryset:
            official_account_set_verification(
                actor=authenticated_user(request),
                account=account,
                status=VerificationStatus.REJECTED,
            )
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d account rejected.", "%(count)d accounts rejected.", count) % {"count": count},
            messages.WARNING,
        )
