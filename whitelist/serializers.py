"""API input and output shapes of the whitelist."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import OfficialAccount

from .constants import UserService
from .models import (
    ApplicationAttachment,
    Evaluation,
    ReasonCode,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
)


class ProductSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    url = serializers.URLField(max_length=500)


class ApplicationInputSerializer(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=OfficialAccount.objects.none())
    has_in_house_team = serializers.BooleanField(default=False)
    dev_team_size = serializers.IntegerField(min_value=0, max_value=100_000, default=0)
    self_developed_products = serializers.ListField(child=ProductSerializer(), max_length=20, default=list)
    services = serializers.ListField(
        child=serializers.ChoiceField(choices=UserService.choices),
        max_length=len(UserService.values),
        default=list,
    )
    support_channels = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=10, default=list
    )
    after_sales_policy = serializers.CharField(max_length=5000, allow_blank=True, default="")
    description = serializers.CharField(max_length=5000, allow_blank=True, default="")

    def __init__(self, *args: Any, accounts: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if accounts is not None:
            self.fields["account"].queryset = accounts  # type: ignore[attr-defined]

    def validate_self_developed_products(self, value: list[Any]) -> list[dict[str, str]]:
        return [{"name": item["name"], "url": item["url"]} for item in value]


class ApplicationUpdateSerializer(ApplicationInputSerializer):
    account = None  # type: ignore[assignment]


class EvaluationOutputSerializer(serializers.ModelSerializer):
    policy_version = serializers.IntegerField(source="policy.version")

    class Meta:
        model = Evaluation
        fields = ["recommendation", "policy_version", "results", "created_at"]


class ApplicationOutputSerializer(serializers.ModelSerializer):
    evaluation = serializers.SerializerMethodField()

    class Meta:
        model = WhitelistApplication
        fields = [
            "id",
            "account",
            "organization",
            "state",
            "has_in_house_team",
            "dev_team_size",
            "self_developed_products",
            "services",
            "support_channels",
            "after_sales_policy",
            "description",
            "submitted_at",
            "decided_at",
            "created_at",
            "updated_at",
            "evaluation",
        ]

    def get_evaluation(self, application: WhitelistApplication) -> dict[str, Any] | None:
        evaluation = application.evaluations.select_related("policy").order_by("-id").first()
        return EvaluationOutputSerializer(evaluation).data if evaluation else None


class EventOutputSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    reason_code: serializers.SlugRelatedField[ReasonCode] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = ReviewEvent
        fields = [
            "id",
            "actor",
            "from_state",
            "to_state",
            "reason_code",
            "message",
            "visible_to_applicant",
            "created_at",
        ]

    def get_actor(self, event: ReviewEvent) -> str | None:
        if event.actor is None:
            return None
        # Applicants see that platform staff acted, not which reviewer.
        if event.actor.is_staff and not self.context.get("show_staff_names"):
            return str(_("Platform staff"))
        return event.actor.get_username()


class MessageInputSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=5000, allow_blank=True, default="")


class RequestChangesInputSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=5000)
    reason_code = serializers.SlugRelatedField(
        slug_field="code", queryset=ReasonCode.objects.filter(is_active=True), required=False, allow_null=True
    )


class RejectInputSerializer(serializers.Serializer):
    reason_code = serializers.SlugRelatedField(
        slug_field="code", queryset=ReasonCode.objects.filter(is_active=True)
    )
    message = serializers.CharField(max_length=5000, allow_blank=True, default="")


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class EntryOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WhitelistEntry
        fields = ["id", "account", "state", "share_limit_per_hour", "valid_from", "valid_until"]


class EntryUpdateSerializer(serializers.Serializer):
    share_limit_per_hour = serializers.IntegerField(min_value=1, max_value=10_000)


class AttachmentOutputSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ApplicationAttachment
        fields = ["id", "original_name", "content_type", "size", "created_at", "download_url"]

    def get_download_url(self, attachment: ApplicationAttachment) -> str:
        return f"/api/v1/applications/{attachment.application_id}/attachments/{attachment.pk}/"


class AttachmentInputSerializer(serializers.Serializer):
    file = serializers.FileField(max_length=200, allow_empty_file=False)
