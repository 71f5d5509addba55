"""Names shared by the whitelist criteria, services and API."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Criterion(models.TextChoices):
    VERIFIED_ACCOUNT = "verified_account", _("Verified account")
    OPEN_VERTICAL = "open_vertical", _("Open vertical")
    AUDIENCE = "audience", _("Audience")
    INDEPENDENT_DEVELOPMENT = "independent_development", _("Independent development capability")
    USER_SERVICES = "user_services", _("User-facing services")
    GOOD_STANDING = "good_standing", _("Good standing")


class Outcome(models.TextChoices):
    PASS = "pass", _("Pass")
    FAIL = "fail", _("Fail")
    NEEDS_REVIEW = "needs_review", _("Needs review")


class Recommendation(models.TextChoices):
    ELIGIBLE = "eligible", _("Eligible")
    NEEDS_REVIEW = "needs_review", _("Needs review")
    INELIGIBLE = "ineligible", _("Ineligible")


class UserService(models.TextChoices):
    ORDERING = "ordering", _("Ordering")
    PAYMENT = "payment", _("Payment")
    BOOKING = "booking", _("Booking")
    MEMBERSHIP_CARDS = "membership_cards", _("Membership cards")
    CUSTOMER_SERVICE = "customer_service", _("Customer service")
    AFTER_SALES = "after_sales", _("After-sales")
    GOVERNMENT_SERVICES = "government_services", _("Government services")
    INFORMATION = "information", _("Information")


# A revoked entry bars a new whitelisting of the same account for this long.
GOOD_STANDING_DAYS = 180

# Entry events the organization is emailed about; grants are told by the approval's email.
NOTIFIED_ENTRY_ACTIONS = ("suspend", "reinstate", "revoke", "expire", "expiry_warning")
