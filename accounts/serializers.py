"""API input and output shapes of the accounts app."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .models import AccountKind, OfficialAccount, Organization, OrganizationKind, Platform, User, Vertical


class RegisterInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    organization_name = serializers.CharField(max_length=200)
    organization_kind = serializers.ChoiceField(choices=OrganizationKind.choices)


class UserOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username"]


class OrganizationOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name", "kind"]


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
            "created_at",
            "updated_at",
        ]


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
    vertical = serializers.SlugRelatedField(slug_field="code", queryset=Vertical.objects.all())
    followers_count = serializers.IntegerField(min_value=0, max_value=2**63 - 1, default=0)

    def __init__(self, *args, organizations=None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        if organizations is not None:
            self.fields["organization"].queryset = organizations  # type: ignore[attr-defined]
