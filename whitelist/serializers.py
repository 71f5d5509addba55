"""API input and output shapes of the whitelist."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import OfficialAccount, Platform

from .constants import Criterion, Outcome, UserService
from .models import (
    ApplicationAttachment,
    EntryState,
    Evaluation,
    EvaluationTrigger,
    ReasonCode,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
)
from .selectors import LATEST_EVALUATION_ATTR, evaluation_shown


class ProductSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    url = serializers.URLField(max_length=500)


class CriterionResultSerializer(serializers.Serializer):
    """One criterion's outcome in an evaluation (documentation of the stored JSON)."""

    criterion = serializers.ChoiceField(choices=Criterion.choices)
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    reason = serializers.CharField(help_text="Why, in words the applicant can act on.")


# The JSON columns below are written only by the services, which check their shape; the fields
# return the stored JSON as it is and tell the schema what that shape is.


@extend_schema_field(ProductSerializer(many=True))
class ProductListField(serializers.JSONField):
    pass


@extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=UserService.choices)))
class ServiceListField(serializers.JSONField):
    pass


@extend_schema_field(serializers.ListField(child=serializers.CharField()))
class StringListField(serializers.JSONField):
    pass


@extend_schema_field(CriterionResultSerializer(many=True))
class CriterionResultListField(serializers.JSONField):
    pass


class EvaluationFactsSerializer(serializers.Serializer):
    """What an evaluation read, as it was when it ran (documentation of the stored JSON)."""

    account_verified = serializers.BooleanField()
    vertical_code = serializers.CharField()
    vertical_name = serializers.CharField()
    followers_count = serializers.IntegerField()
    has_in_house_team = serializers.BooleanField()
    dev_team_size = serializers.IntegerField()
    self_developed_products = ProductSerializer(many=True)
    services = serializers.ListField(child=serializers.ChoiceField(choices=UserService.choices))
    support_channels = serializers.ListField(child=serializers.CharField())
    attachment_count = serializers.IntegerField()
    last_revoked_at = serializers.DateTimeField(allow_null=True)
    now = serializers.DateTimeField(help_text="When the evaluation read the facts.")


@extend_schema_field(EvaluationFactsSerializer(allow_null=True))
class EvaluationFactsField(serializers.JSONField):
    def to_representation(self, value: Any) -> Any:
        # Evaluations from before the facts were kept have none.
        return value or None


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
        # A PATCH validates partially, nested products too; a product still needs both fields.
        missing = {
            str(index): {name: [_("This field is required.")] for name in ("name", "url") if name not in item}
            for index, item in enumerate(value)
            if not {"name", "url"} <= item.keys()
        }
        if missing:
            raise serializers.ValidationError(missing)
        return [{"name": item["name"], "url": item["url"]} for item in value]


class ApplicationUpdateSerializer(ApplicationInputSerializer):
    account = None  # type: ignore[assignment]


class EvaluationOutputSerializer(serializers.ModelSerializer):
    policy_version = serializers.IntegerField(source="policy.version")
    results = CriterionResultListField(read_only=True)
    trigger = serializers.ChoiceField(
        choices=EvaluationTrigger.choices,
        read_only=True,
        help_text="Why it ran: `applicant` (a check before sending), `submission` (at submission or "
        "resubmission), `staff` (re-evaluated by staff), `decision` (at approval).",
    )
    facts = EvaluationFactsField(read_only=True, help_text="The facts it read, as they were then.")

    class Meta:
        model = Evaluation
        fields = ["recommendation", "policy_version", "trigger", "results", "facts", "created_at"]


class ApplicationOutputSerializer(serializers.ModelSerializer):
    self_developed_products = ProductListField(read_only=True)
    services = ServiceListField(read_only=True)
    support_channels = StringListField(read_only=True)
    evaluation = serializers.SerializerMethodField(
        help_text="The evaluation that stands for the application: the newest taken at submission or "
        "resubmission, by staff or at the decision (an applicant's own check only while it can still "
        "change); null before the first."
    )

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

    @extend_schema_field(EvaluationOutputSerializer(allow_null=True))
    def get_evaluation(self, application: WhitelistApplication) -> dict[str, Any] | None:
        prefetched: list[Evaluation] | None = getattr(application, LATEST_EVALUATION_ATTR, None)
        if prefetched is None:
            evaluation = evaluation_shown(application=application)
        else:
            evaluation = prefetched[0] if prefetched else None
        return EvaluationOutputSerializer(evaluation).data if evaluation else None


class ReviewEventOutputSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    reason_code: serializers.SlugRelatedField[ReasonCode] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
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

    @extend_schema_field(
        serializers.CharField(
            allow_null=True,
            help_text="Who acted: a username, `Platform staff` for reviewers when an applicant reads, "
            "null for the system.",
        )
    )
    def get_actor(self, event: ReviewEvent) -> str | None:
        if event.actor is None:
            return None
        # Applicants see that platform staff acted, not which reviewer.
        if event.actor.is_staff and not self.context.get("show_staff_names"):
            return str(_("Platform staff"))
        return event.actor.get_username()


class MessageInputSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=5000, allow_blank=True, default="")


class ApproveInputSerializer(MessageInputSerializer):
    override = serializers.BooleanField(
        default=False,
        help_text="Approve although required criteria fail: staff with the override permission only; "
        "`message` then says why, and is kept for staff.",
    )


class ReasonCodeField(serializers.SlugRelatedField[ReasonCode]):
    """An active reason code by its code; a string no code can be is refused before the database sees it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "An active reason code, e.g. `evidence_insufficient`.")
        super().__init__(slug_field="code", queryset=ReasonCode.objects.filter(is_active=True), **kwargs)

    def to_internal_value(self, data: Any) -> ReasonCode:
        # PostgreSQL refuses a NUL character in a query; a code is at most 50 characters.
        if isinstance(data, str) and ("\x00" in data or len(data) > 50):
            self.fail("does_not_exist", slug_name=self.slug_field, value=data[:50])
        return super().to_internal_value(data)


class RequestChangesInputSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=5000)
    reason_code = ReasonCodeField(required=False, allow_null=True)


class RejectInputSerializer(serializers.Serializer):
    reason_code = ReasonCodeField()
    message = serializers.CharField(max_length=5000, allow_blank=True, default="")


class EntryReasonInputSerializer(serializers.Serializer):
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


class WhitelistLookupOutputSerializer(serializers.Serializer):
    """The public answer to "is this account whitelisted?"."""

    platform = serializers.ChoiceField(choices=Platform.choices)
    platform_uid = serializers.CharField()
    whitelisted = serializers.BooleanField(help_text="The entry is active and its validity has not ended.")
    state = serializers.ChoiceField(
        choices=EntryState.choices, allow_null=True, help_text="The entry's state; null without an entry."
    )
    share_limit_per_hour = serializers.IntegerField(
        min_value=1, allow_null=True, help_text="Shares allowed per hour; null without an entry."
    )
    valid_until = serializers.DateTimeField(allow_null=True, help_text="Null without an entry.")
