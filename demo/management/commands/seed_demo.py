"""`manage.py seed_demo`: demo staff, merchants and official accounts for the quick start; idempotent."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import (
    AccountKind,
    Membership,
    MembershipRole,
    OfficialAccount,
    OrganizationKind,
    Platform,
    User,
    VerificationStatus,
    Vertical,
)
from accounts.scopes import Scope
from accounts.services import (
    official_account_create,
    official_account_set_verification,
    official_account_verify,
    organization_update,
    user_email_confirm,
    user_register,
)
from accounts.validators import credit_code_check_character
from integrations.models import ApiKey
from integrations.services import api_key_issue
from miniprograms.models import MiniProgram
from miniprograms.services import miniprogram_create, profile_link_approve, profile_link_request
from portal.errors import ApplicationError
from whitelist.models import WhitelistApplication
from whitelist.services import application_approve, application_create, application_submit

# Public on purpose: the command prints them for the quick start. Never use them on a reachable site.
STAFF_USERNAME = "staff"
STAFF_PASSWORD = "staff-demo-2026"
MERCHANT_PASSWORD = "merchant-demo-2026"
SITE_URL = "http://127.0.0.1:8000/"
DEMO_API_KEY_NAME = "Demo platform key"


@dataclass(frozen=True)
class DemoAccount:
    platform_uid: str
    screen_name: str
    kind: str
    vertical: str
    followers_count: int
    verification: str


@dataclass(frozen=True)
class DemoMerchant:
    username: str
    email: str
    organization_name: str
    organization_kind: str
    # The first 17 characters of the unified social credit code; the 18th is computed.
    credit_code_stem: str
    accounts: tuple[DemoAccount, ...]

    @property
    def credit_code(self) -> str:
        return self.credit_code_stem + credit_code_check_character(self.credit_code_stem)


DEMO_MERCHANTS = (
    DemoMerchant(
        username="gov_demo",
        email="gov_demo@demo.example",
        organization_name="Hangzhou City Government Services Office",
        organization_kind=OrganizationKind.GOVERNMENT,
        # 1 = government registration authority, 1 = state organ, 330100 = Hangzhou.
        credit_code_stem="11330100002489347",
        accounts=(
            DemoAccount(
                platform_uid="2803301701",
                screen_name="Hangzhou Fabu",
                kind=AccountKind.GOVERNMENT,
                vertical="government",
                followers_count=3_860_000,
                verification=VerificationStatus.VERIFIED,
            ),
            DemoAccount(
                platform_uid="2803301702",
                screen_name="Hangzhou Zhengwu Fuwu",
                kind=AccountKind.GOVERNMENT,
                vertical="government",
                followers_count=1_124_500,
                verification=VerificationStatus.VERIFIED,
            ),
            DemoAccount(
                platform_uid="2803301703",
                screen_name="Youzai Hangzhou Wenlv",
                kind=AccountKind.GOVERNMENT,
                vertical="travel",
                followers_count=95_800,
                verification=VerificationStatus.UNVERIFIED,
            ),
            DemoAccount(
                platform_uid="2803301704",
                screen_name="Hangzhou Xiaofei Weiquan",
                kind=AccountKind.GOVERNMENT,
                vertical="commerce",
                followers_count=62_400,
                verification=VerificationStatus.REJECTED,
            ),
        ),
    ),
    DemoMerchant(
        username="shop_demo",
        email="shop_demo@demo.example",
        organization_name="Golden Arches Food Co",
        organization_kind=OrganizationKind.ENTERPRISE,
        # 9 = industry and commerce registration, 1 = enterprise, 310115 = Shanghai Pudong.
        credit_code_stem="91310115MA1K3DM7Q",
        accounts=(
            DemoAccount(
                platform_uid="5501150801",
                screen_name="Golden Arches China",
                kind=AccountKind.ENTERPRISE,
                vertical="food_beverage",
                followers_count=2_450_000,
                verification=VerificationStatus.VERIFIED,
            ),
            DemoAccount(
                platform_uid="5501150802",
                screen_name="Golden Arches Delivery",
                kind=AccountKind.ENTERPRISE,
                vertical="commerce",
                followers_count=312_000,
                verification=VerificationStatus.VERIFIED,
            ),
            DemoAccount(
                platform_uid="5501150803",
                screen_name="Golden Arches Coffee Corner",
                kind=AccountKind.ENTERPRISE,
                vertical="retail",
                followers_count=87_400,
                verification=VerificationStatus.UNVERIFIED,
            ),
            DemoAccount(
                platform_uid="5501150804",
                screen_name="Golden Arches Weekly",
                kind=AccountKind.MEDIA,
                vertical="media",
                followers_count=41_300,
                verification=VerificationStatus.REJECTED,
            ),
        ),
    ),
)


DEMO_EVIDENCE = {
    "has_in_house_team": True,
    "dev_team_size": 12,
    "self_developed_products": [{"name": "Service app", "url": "https://apps.demo.example/service"}],
    "services": ["ordering", "payment", "customer_service"],
    "support_channels": ["Hotline 400-000-0000"],
    "after_sales_policy": "Refunds within 7 days, handled by our own service team.",
    "description": "Our in-house team builds and runs the mini program.",
}
# (account uid, applicant, how far the demo application goes)
DEMO_APPLICATIONS = (
    ("2803301701", "gov_demo", "approved"),
    ("5501150801", "shop_demo", "approved"),
    ("5501150802", "shop_demo", "submitted"),
    ("2803301702", "gov_demo", "draft"),
)


# (app id, name, category, capabilities, account uid, approve the profile link)
DEMO_MINIPROGRAMS = (
    ("2021004100000001", "Golden Arches Order", "business", ["payment", "card"], "5501150801", True),
    ("2021004100000002", "Golden Arches Rewards", "life_service", ["card", "content"], "5501150801", False),
    (
        "2021003300000001",
        "Hangzhou Citizen Services",
        "life_service",
        ["search", "content"],
        "2803301701",
        True,
    ),
)


class Command(BaseCommand):
    help = (
        "Create a demo staff user, two demo merchants and their official accounts. "
        "Idempotent: what already exists is left as it is. The demo passwords are public."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        created: list[str] = []
        try:
            with transaction.atomic():
                staff = self._staff(created)
                for merchant in DEMO_MERCHANTS:
                    self._merchant(merchant, staff=staff, created=created)
                self._whitelist(staff=staff, created=created)
                self._miniprograms(staff=staff, created=created)
                self._api_key(staff=staff, created=created)
        except ValidationError as exc:
            raise CommandError(f"The demo data is not valid: {exc}") from exc
        except ApplicationError as exc:
            # A service's refusal (InvalidInput names the field, a Conflict the state).
            raise CommandError(
                f"The demo data is not valid: {exc.message} {exc.errors or ''}".strip()
            ) from exc

        if created:
            for line in created:
                self.stdout.write(f"  created {line}")
        else:
            self.stdout.write("Demo data already present; nothing created.")
        self._print_logins()

    def _staff(self, created: list[str]) -> User:
        staff = User.objects.filter(username=STAFF_USERNAME).first()
        if staff is None:
            staff = User.objects.create_superuser(
                username=STAFF_USERNAME,
                email="staff@demo.example",
                password=STAFF_PASSWORD,
                email_confirmed_at=timezone.now(),
            )
            created.append(f"staff superuser {STAFF_USERNAME}")
        elif not staff.is_staff:
            raise CommandError(
                f"A user named {STAFF_USERNAME!r} exists but is not staff; "
                "rename it or seed another database."
            )
        return staff

    def _merchant(self, merchant: DemoMerchant, *, staff: User, created: list[str]) -> None:
        user = User.objects.filter(username=merchant.username).first()
        if user is None:
            user, organization = user_register(
                username=merchant.username,
                email=merchant.email,
                password=MERCHANT_PASSWORD,
                organization_name=merchant.organization_name,
                organization_kind=merchant.organization_kind,
            )
            # Demo addresses count as confirmed, so the demo's emails show up in the console.
            user = user_email_confirm(user=user)
            created.append(f"merchant {merchant.username} and organization {organization.name!r}")
        else:
            membership = (
                Membership.objects.filter(user=user, role=MembershipRole.OWNER)
                .select_related("organization")
                .order_by("id")
                .first()
            )
            if membership is None:
                raise CommandError(f"User {merchant.username!r} exists but owns no organization.")
            organization = membership.organization

        if not organization.unified_social_credit_code:
            organization_update(
                actor=user,
                organization=organization,
                data={"unified_social_credit_code": merchant.credit_code},
            )
            created.append(f"credit code {merchant.credit_code} of {organization.name!r}")

        for demo in merchant.accounts:
            if OfficialAccount.objects.filter(
                platform=Platform.WEIBO, platform_uid=demo.platform_uid
            ).exists():
                continue
            account = official_account_create(
                actor=user,
                organization=organization,
                platform=Platform.WEIBO,
                platform_uid=demo.platform_uid,
                screen_name=demo.screen_name,
                kind=demo.kind,
                vertical=self._vertical(demo.vertical),
                followers_count=demo.followers_count,
            )
            if demo.verification == VerificationStatus.VERIFIED:
                official_account_verify(actor=staff, account=account)
            elif demo.verification != VerificationStatus.UNVERIFIED:
                official_account_set_verification(
                    actor=staff,
                    account=account,
                    status=demo.verification,
                    reason="The screen name does not match the business licence.",
                )
            created.append(
                f"official account {demo.screen_name!r} (weibo:{demo.platform_uid}, {demo.vertical}, "
                f"{demo.followers_count:,} followers, {demo.verification})"
            )

    def _whitelist(self, *, staff: User, created: list[str]) -> None:
        """Applications in each state a newcomer should see: approved, waiting for review, draft."""
        for uid, username, outcome in DEMO_APPLICATIONS:
            account = OfficialAccount.objects.get(platform=Platform.WEIBO, platform_uid=uid)
            if WhitelistApplication.objects.filter(account=account).exists():
                continue
            applicant = User.objects.get(username=username)
            application = application_create(actor=applicant, account=account, data=DEMO_EVIDENCE)
            if outcome != "draft":
                application = application_submit(actor=applicant, application=application)
            if outcome == "approved":
                application = application_approve(
                    actor=staff, application=application, message="Welcome to the programme."
                )
            created.append(f"whitelist application for {account.screen_name!r} ({application.state})")

    def _miniprograms(self, *, staff: User, created: list[str]) -> None:
        """A live mini program on a whitelisted demo account, ready to share, and one awaiting review."""
        for app_id, name, category, capabilities, uid, approve in DEMO_MINIPROGRAMS:
            if MiniProgram.objects.filter(app_id=app_id).exists():
                continue
            account = OfficialAccount.objects.get(platform=Platform.WEIBO, platform_uid=uid)
            owner = User.objects.get(
                memberships__organization_id=account.organization_id, memberships__role=MembershipRole.OWNER
            )
            miniprogram = miniprogram_create(
                actor=owner,
                organization=account.organization,
                app_id=app_id,
                name=name,
                category=category,
                description=f"{name}, built and run by our own team.",
                capabilities=capabilities,
            )
            link = profile_link_request(actor=owner, miniprogram=miniprogram, account=account)
            if approve:
                link = profile_link_approve(actor=staff, link=link, reason="Demo link.")
            created.append(f"mini program {name!r} on {account.screen_name!r} ({link.state})")

    def _api_key(self, *, staff: User, created: list[str]) -> None:
        if ApiKey.objects.filter(name=DEMO_API_KEY_NAME).exists():
            return
        _key, secret = api_key_issue(actor=staff, name=DEMO_API_KEY_NAME, scopes=Scope.values)
        created.append(
            f"platform-wide API key {DEMO_API_KEY_NAME!r} with every scope: {secret} "
            "(shown once; send it as `Authorization: Api-Key <key>`)"
        )

    @staticmethod
    def _vertical(code: str) -> Vertical:
        try:
            return Vertical.objects.get(code=code)
        except Vertical.DoesNotExist as exc:
            raise CommandError(
                f"Vertical {code!r} is missing; run `manage.py migrate` first (it creates the verticals)."
            ) from exc

    def _print_logins(self) -> None:
        usernames = [STAFF_USERNAME, *(merchant.username for merchant in DEMO_MERCHANTS)]
        width = max(len(name) for name in usernames)
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                "Demo logins. These passwords are public on purpose: use them for a local demo only, "
                "never on a reachable site."
            )
        )
        self.stdout.write(f"  portal: {SITE_URL}")
        self.stdout.write(f"  admin:  {SITE_URL}admin/")
        self.stdout.write(f"  API:    {SITE_URL}api/docs/ (Swagger UI), {SITE_URL}api/redoc/")
        self.stdout.write(f"  {STAFF_USERNAME:<{width}}  {STAFF_PASSWORD:<20}  platform staff, superuser")
        for merchant in DEMO_MERCHANTS:
            role = f"merchant of {merchant.organization_name}"
            self.stdout.write(f"  {merchant.username:<{width}}  {MERCHANT_PASSWORD:<20}  {role}")
