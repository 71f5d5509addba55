"""The scale seed's directory: organizations and their official accounts, generated a batch at a time."""

import random
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta

from django.db import models

from accounts.models import (
    OfficialAccount,
    Organization,
    OrganizationKind,
    Platform,
    VerificationStatus,
    Vertical,
)
from accounts.validators import CREDIT_CODE_ALPHABET, credit_code_check_character
from demo.scale.copying import Batch
from demo.scale.plan import (
    ACCOUNT_AGE_DAYS,
    ACCOUNT_SUFFIXES,
    BRANDS,
    CITIES,
    CREDIT_CODE_KIND,
    CREDIT_CODE_MARK,
    DEPARTMENTS,
    FOLLOWERS_MAX,
    FOLLOWERS_MU,
    FOLLOWERS_SIGMA,
    INDUSTRIES,
    MEDIA_HOUSES,
    MEDIA_SHARE,
    ORGANIZATION_PREFIX,
    ORGANIZATION_SIZE_MAX,
    ORGANIZATION_SIZE_MU,
    ORGANIZATION_SIZE_SIGMA,
    UID_PREFIX,
    UNVERIFIED_SHARE,
    VERIFIED_SHARE,
    VERTICAL_WEIGHTS,
    WHITELISTED_ACCOUNT_AGE_DAYS,
    WHITELISTED_FOLLOWERS_ALPHA,
    ScalePlan,
)
from demo.scale.programme import LinkedAccount, ProgrammeRows
from whitelist.criteria import Rules
from whitelist.models import CriteriaPolicy


def _base31(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, len(CREDIT_CODE_ALPHABET))
        digits.append(CREDIT_CODE_ALPHABET[digit])
    if number:
        raise ValueError("number too large for the width")
    return "".join(reversed(digits))


def credit_code(*, kind: str, region: str, serial: int) -> str:
    """A valid unified social credit code for the seed's organization number `serial`."""
    first_17 = CREDIT_CODE_KIND[kind] + region + CREDIT_CODE_MARK + _base31(serial, 7)
    return first_17 + credit_code_check_character(first_17)


class ScaleDirectory(ProgrammeRows):
    """Generates the seed's rows organization by organization, a batch at a time."""

    def __init__(
        self,
        *,
        plan: ScalePlan,
        rng: random.Random,
        now: datetime,
        verticals: dict[str, Vertical],
        policy: CriteriaPolicy,
        rules: Rules,
        user_id: int,
        next_id: Callable[[type[models.Model]], int],
        quota_rows: str,
    ) -> None:
        super().__init__(rng=rng, now=now, policy=policy, rules=rules, user_id=user_id, next_id=next_id)
        self.plan = plan
        self.verticals = verticals
        self.quota_rows = quota_rows
        # Exact counts: each choice is drawn with probability (still wanted) / (still to come).
        self.accounts_left = plan.accounts
        self.government_left = plan.government
        self.whitelisted_left = plan.whitelisted
        self.whitelisted_to_come = plan.whitelisted
        self.linked_left = plan.linked
        self.linked_to_come = plan.linked
        self.last_hour_left = plan.shared_last_hour
        self.this_hour_left = plan.shared_this_hour
        self.organizations = 0
        self.account_serial = 0
        self.vertical_choices = {
            kind: self._choices(weights, whitelisted=False) for kind, weights in VERTICAL_WEIGHTS.items()
        }
        self.whitelisted_vertical_choices = {
            kind: self._choices(weights, whitelisted=True) for kind, weights in VERTICAL_WEIGHTS.items()
        }

    def _choices(self, weights: dict[str, int], *, whitelisted: bool) -> tuple[list[str], list[int]]:
        """Codes and cumulative weights; whitelisted accounts are in the active policy's open verticals."""
        if whitelisted and self.rules.open_verticals:
            weights = {code: weight for code, weight in weights.items() if code in self.rules.open_verticals}
            # A kind none of whose verticals is open (media) is spread evenly over the open ones.
            weights = weights or {code: 1 for code in sorted(self.rules.open_verticals)}
        codes = sorted(weights)
        cumulative, total = [], 0
        for code in codes:
            total += weights[code]
            cumulative.append(total)
        return codes, cumulative

    def batches(self, *, batch_size: int) -> Iterator[Batch]:
        while self.accounts_left:
            batch = Batch()
            while batch.accounts < batch_size and self.accounts_left:
                self._organization(batch)
            yield batch

    def _organization(self, batch: Batch) -> None:
        rng = self.rng
        kind: str
        if rng.random() * self.accounts_left < self.government_left:
            kind, room = OrganizationKind.GOVERNMENT.value, self.government_left
        else:
            media = rng.random() < MEDIA_SHARE
            kind = (OrganizationKind.MEDIA if media else OrganizationKind.ENTERPRISE).value
            room = self.accounts_left - self.government_left
        size = max(1, round(rng.lognormvariate(ORGANIZATION_SIZE_MU, ORGANIZATION_SIZE_SIGMA)))
        size = min(size, ORGANIZATION_SIZE_MAX, room)
        city, region = rng.choice(CITIES)
        serial = self.organizations
        self.organizations += 1
        stems: tuple[str, ...]
        if kind == OrganizationKind.GOVERNMENT:
            department, short = rng.choice(DEPARTMENTS)
            name, stems = f"{city}市{department}", (f"{city}{short}",)
        elif kind == OrganizationKind.MEDIA:
            house, short = rng.choice(MEDIA_HOUSES)
            name, stems = f"{city}{house}", (f"{city}{short}",)
        else:
            brand = "".join(rng.sample(BRANDS, 2))
            name, stems = f"{city}{brand}{rng.choice(INDUSTRIES)}有限公司", (brand, f"{brand}{city}")
        organization_id = self.next_id(Organization)
        batch.add(
            Organization,
            (
                organization_id,
                f"{ORGANIZATION_PREFIX}{name} {serial:06d}",
                kind,
                credit_code(kind=kind, region=region, serial=serial),
                self._ago(ACCOUNT_AGE_DAYS[1], ACCOUNT_AGE_DAYS[1] + 3 * 365),
            ),
        )
        linked: list[LinkedAccount] = []
        for _ in range(size):
            account = self._account(batch, organization_id=organization_id, kind=kind, stems=stems)
            if account is not None:
                linked.append(account)
        batch.accounts += size
        if linked:
            self._miniprograms(batch, organization_id=organization_id, accounts=linked, stem=stems[0])

    def _account(
        self, batch: Batch, *, organization_id: int, kind: str, stems: Sequence[str]
    ) -> LinkedAccount | None:
        """Write one account (and its whitelisting); return it when it shows mini programs."""
        rng = self.rng
        whitelisted = rng.random() * self.accounts_left < self.whitelisted_left
        self.accounts_left -= 1
        if kind == OrganizationKind.GOVERNMENT:
            self.government_left -= 1
        serial = self.account_serial
        self.account_serial += 1
        if whitelisted:
            self.whitelisted_left -= 1
            codes, cumulative = self.whitelisted_vertical_choices[kind]
            created_at = self._ago(*WHITELISTED_ACCOUNT_AGE_DAYS)
            followers_count = self._followers(
                lambda: self.rules.min_followers * rng.paretovariate(WHITELISTED_FOLLOWERS_ALPHA)
            )
            status = VerificationStatus.VERIFIED
        else:
            codes, cumulative = self.vertical_choices[kind]
            created_at = self._ago(*ACCOUNT_AGE_DAYS)
            followers_count = self._followers(lambda: rng.lognormvariate(FOLLOWERS_MU, FOLLOWERS_SIGMA))
            draw = rng.random()
            status = (
                VerificationStatus.VERIFIED
                if draw < VERIFIED_SHARE
                else VerificationStatus.UNVERIFIED
                if draw < VERIFIED_SHARE + UNVERIFIED_SHARE
                else VerificationStatus.REJECTED
            )
        vertical = self.verticals[rng.choices(codes, cum_weights=cumulative)[0]]
        verified_at = None
        if status == VerificationStatus.VERIFIED:
            verified_at = min(self.now, created_at + timedelta(days=rng.uniform(0.05, 30)))
        suffix = rng.choice(ACCOUNT_SUFFIXES)
        account_id = self.next_id(OfficialAccount)
        batch.add(
            OfficialAccount,
            (
                account_id,
                organization_id,
                Platform.WEIBO.value,
                f"{UID_PREFIX}{serial:07d}",
                f"{rng.choice(stems)}{suffix}{serial}",
                kind,
                vertical.pk,
                followers_count,
                status.value,
                verified_at,
                created_at,
                verified_at or created_at,
            ),
        )
        if not whitelisted:
            self._idle_quota(batch, account_id=account_id)
            return None
        valid_from = self._whitelist(
            batch,
            account_id=account_id,
            account_serial=serial,
            organization_id=organization_id,
            kind=kind,
            vertical=vertical,
            followers_count=followers_count,
        )
        linked = rng.random() * self.whitelisted_to_come < self.linked_left
        self.whitelisted_to_come -= 1
        if not linked:
            self._idle_quota(batch, account_id=account_id)
            return None
        self.linked_left -= 1
        draw = rng.random() * self.linked_to_come
        self.linked_to_come -= 1
        shared = ""
        if draw < self.last_hour_left:
            shared, self.last_hour_left = "last", self.last_hour_left - 1
        elif draw < self.last_hour_left + self.this_hour_left:
            shared, self.this_hour_left = "this", self.this_hour_left - 1
        return LinkedAccount(id=account_id, valid_from=valid_from, shared=shared)

    @staticmethod
    def _followers(draw: Callable[[], float]) -> int:
        """A draw below the cap: drawn again rather than capped, so no crowd of accounts shares the cap."""
        followers = draw()
        while followers > FOLLOWERS_MAX:
            followers = draw()
        return int(followers)

    def _idle_quota(self, batch: Batch, *, account_id: int) -> None:
        """With --quota-rows all, an account that shows no mini program has a counter idle since long ago."""
        if self.quota_rows == "all":
            self._quota_idle(batch, account_id=account_id)
