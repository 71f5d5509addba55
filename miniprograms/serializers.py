"""API input and output shapes of mini programs and profile links."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import OfficialAccount, Organization

from .models import (
    APP_ID_REGEX,
    NAME_MAX_LENGTH,
    Capability,
    Category,
    MiniProgram,
    ProfileLink,
    Share,
)
from .quota import QuotaState

DESCRIPTION_MAX_LENGTH = 2000


class MiniProgramInputSerializer(serializers.Serializer):
    """Fields a merchant sends to register or edit a mini program; services enforce the rules."""

    organization = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.none(), required=False)
    app_id = serializers.RegexField(
        APP_ID_REGEX, max_length=16, error_messages={"invalid": _("The app id is exactly 16 digits.")}
    )
    name = serializers.CharField(max_length=NAME_MAX_LENGTH)
    description = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, default="")
    category = serializers.ChoiceField(choices=Category.choices)
    # Duplicates are refused by the service, with a message on "capabilities".
    capabilities = serializers.ListField(
        child=serializers.ChoiceField(choices=Capability.choices), max_length=20, default=list
    )

    def __init__(self, *args: Any, organizations: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if organizations is not None:
            self.fields["organization"].queryset = organizations  # type: ignore[attr-defined]


class MiniProgramOutputSerializer(serializers.ModelSerializer):
    capabilities = serializers.ListField(child=serializers.CharField(), read_only=True)
    icon_url = serializers.SerializerMethodField()

    class Meta:
        model = MiniProgram
        fields = [
            "id",
            "organization",
            "app_id",
            "name",
            "description",
            "category",
            "capabilities",
            "state",
            "icon_url",
            "created_at",
            "updated_at",
        ]

    def get_icon_url(self, miniprogram: MiniProgram) -> str | None:
        return miniprogram.icon.url if miniprogram.icon else None


class IconInputSerializer(serializers.Serializer):
    icon = serializers.FileField(max_length=200, allow_empty_file=False)


class ProfileLinkInputSerializer(serializers.Serializer):
    miniprogram = serializers.PrimaryKeyRelatedField(queryset=MiniProgram.objects.none())
    account = serializers.PrimaryKeyRelatedField(queryset=OfficialAccount.objects.none())

    def __init__(self, *args: Any, miniprograms: Any = None, accounts: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if miniprograms is not None:
            self.fields["miniprogram"].queryset = miniprograms  # type: ignore[attr-defined]
        if accounts is not None:
            self.fields["account"].queryset = accounts  # type: ignore[attr-defined]


class ProfileLinkOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProfileLink
        fields = [
            "id",
            "miniprogram",
            "account",
            "state",
            "position",
            "reason",
            "decided_at",
            "created_at",
            "updated_at",
        ]


class OptionalReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, allow_blank=True, default="")


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class ShareInputSerializer(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=OfficialAccount.objects.none())

    def __init__(self, *args: Any, accounts: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if accounts is not None:
            self.fields["account"].queryset = accounts  # type: ignore[attr-defined]


class ShareQuotaSummarySerializer(serializers.Serializer):
    limit = serializers.IntegerField(help_text=_("Shares an hour the account's whitelist entry allows."))
    used = serializers.IntegerField(help_text=_("Shares recorded in the current window."))
    remaining = serializers.IntegerField()
    resets_at = serializers.DateTimeField(help_text=_("When the next window opens (clock hours, UTC)."))


class ShareCreatedOutputSerializer(serializers.Serializer):
    """The answer to a share: the share and the account's quota after it."""

    id = serializers.IntegerField()
    account = serializers.IntegerField()
    miniprogram = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    quota = ShareQuotaSummarySerializer()


class QuotaOutputSerializer(serializers.Serializer):
    """An account's share quota in the current window."""

    limit = serializers.IntegerField(help_text=_("Shares an hour the account's whitelist entry allows."))
    used = serializers.IntegerField(help_text=_("Shares recorded in the current window."))
    remaining = serializers.IntegerField()
    window_start = serializers.DateTimeField(help_text=_("When the current window opened."))
    resets_at = serializers.DateTimeField(help_text=_("When the next window opens (clock hours, UTC)."))


class ShareOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Share
        fields = ["id", "account", "miniprogram", "slot", "limit", "window_start", "created_at"]


class ProfileMiniProgramSerializer(serializers.Serializer):
    app_id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    category = serializers.ChoiceField(choices=Category.choices)
    capabilities = serializers.ListField(child=serializers.CharField())
    icon_url = serializers.CharField(allow_null=True)


class ProfileOutputSerializer(serializers.Serializer):
    """An account's profile section: its live mini programs in order, if it is whitelisted."""

    whitelisted = serializers.BooleanField(
        help_text=_("Whether the account's whitelist entry is active; if not, `miniprograms` is empty.")
    )
    miniprograms = ProfileMiniProgramSerializer(many=True)


def quota_data(state: QuotaState) -> dict[str, Any]:
    return {
        "limit": state.limit,
        "used": state.used,
        "remaining": state.remaining,
        "window_start": state.window_start,
        "resets_at": state.resets_at,
    }
