"""API input and output shapes of the accounts app."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from portal.serializer_fields import StrictCharField

from .models import AccountKind, OfficialAccount, Organization, OrganizationKind, Platform, User, Vertical


class RegisterInputSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    email = serializers.EmailField(max_length=254)
    password = StrictCharField(max_length=128, write_only=True, trim_whitespace=False)
    organization_name = StrictCharField(max_length=200)
    organization_kind = serializers.ChoiceField(choices=OrganizationKind.choices)


class UserOutputSerializer(serializers.ModelSerializer):
    # Not the model's validator as a pattern: Python's \w takes letters of every script, JSON Schema's
    # only ASCII ones, so a valid username would break the documented pattern.
    username = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username"]


class OrganizationOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name", "kind"]


class RegisterOutputSerializer(serializers.Serializer):
    user = UserOutputSerializer()
    organization = OrganizationOutputSerializer()


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField(help_text=_("Send it as `Authorization: Token <token>`."))


class VerticalOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vertical
        fields = ["code", "name", "description"]


class OfficialAccountOutputSerializer(serializers.ModelSerializer):
    vertical: serializers.SlugRelatedField[Vertical] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = OfficialAccount
        fields = [
            "id",
            "organization",
            "platform",
            "platform_uid",
            "screen_name",
            "kind",
            "vertical",
            "followers_count",
            "verification_status",
            "verified_at",
            "verification_reason",
            "verification_requested_at",
            "created_at",
            "updated_at",
        ]


class VerticalCodeField(serializers.SlugRelatedField[Vertical]):
    """A vertical by code; text that cannot be a code (a NUL byte) is refused before any query."""

    def to_internal_value(self, data: object) -> Vertical:
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", ""))
        vertical: Vertical = super().to_internal_value(data)
        return vertical


class OfficialAccountInputSerializer(serializers.Serializer):
    """Fields a merchant sends to create or edit an account; services enforce the rules."""

    organization = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.none(), required=False)
    platform = serializers.ChoiceField(choices=Platform.choices, default=Platform.WEIBO)
    platform_uid = serializers.RegexField(
        r"^[A-Za-z0-9_.\-]+$",
        max_length=64,
        error_messages={"invalid": _("Use only letters, digits, dot, dash and underscore.")},
    )
    screen_name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=AccountKind.choices)
    vertical = VerticalCodeField(slug_field="code", queryset=Vertical.objects.all())
    followers_count = serializers.IntegerField(min_value=0, max_value=2**63 - 1, default=0)

    def __init__(self, *args, organizations=None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        if organizations is not None:
            self.fields["organization"].queryset = organizations  # type: ignore[attr-defined]


BULK_UPSERT_MAX_ROWS = 1000


class BulkUpsertInputSerializer(serializers.Serializer):
    """Up to 1,000 accounts keyed by platform and uid; each row is checked on its own."""

    accounts = serializers.ListField(
        child=serializers.JSONField(allow_null=True), min_length=1, max_length=BULK_UPSERT_MAX_ROWS
    )


class BulkUpsertRowResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The row's position in `accounts`, from 0.")
    platform = serializers.CharField(allow_blank=True)
    platform_uid = serializers.CharField(allow_blank=True)
    outcome = serializers.ChoiceField(choices=["created", "updated", "rejected"])
    account = serializers.IntegerField(allow_null=True, help_text="The account's id; null when rejected.")
    errors = serializers.DictField(  # type: ignore[assignment]  # a field, not Serializer.errors
        child=serializers.ListField(child=serializers.CharField())
    )


class BulkUpsertOutputSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = BulkUpsertRowResultSerializer(many=True)


class VerificationRequestInputSerializer(serializers.Serializer):
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="What staff should know: where to check the account, a document's reference.",
    )


class VerificationRequestOutputSerializer(serializers.Serializer):
    verification_status = serializers.CharField()
