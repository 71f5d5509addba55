"""The scale seed's whitelisted accounts' rows: applications, entries, mini programs, links, shares."""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models

from accounts.models import OrganizationKind, Vertical
from demo.scale.copying import Batch, json_text
from demo.scale.plan import (
    ENTRY_AGE_DAYS,
    MINIPROGRAM_NAMES,
    MINIPROGRAMS_PER_ORGANIZATION,
    MINIPROGRAMS_WEIGHTS,
    SUPPORT_CHANNELS,
)
from miniprograms.models import (
    Capability,
    Category,
    MiniProgram,
    MiniProgramState,
    ProfileLink,
    ProfileLinkEvent,
    ProfileLinkState,
    Share,
    ShareQuota,
)
from miniprograms.quota import WINDOW, window_start
from whitelist.constants import UserService
from whitelist.criteria import Facts, Rules, evaluate
from whitelist.models import (
    ApplicationState,
    CriteriaPolicy,
    EntryState,
    Evaluation,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
    WhitelistEntryEvent,
)


@dataclass(frozen=True)
class LinkedAccount:
    id: int
    valid_from: datetime
    # "last" shared in the last closed hour, "this" in the current hour, "" not in either.
    shared: str


class ProgrammeRows:
    """What the programme holds for an account: its whitelisting, its mini programs, links and shares."""

    def __init__(
        self,
        *,
        rng: random.Random,
        now: datetime,
        policy: CriteriaPolicy,
        rules: Rules,
        user_id: int,
        next_id: Callable[[type[models.Model]], int],
    ) -> None:
        self.rng = rng
        self.now = now
        self.policy = policy
        self.rules = rules
        self.user_id = user_id
        self.next_id = next_id
        self.this_window = window_start(now)
        self.last_window = self.this_window - WINDOW
        self.validity = timedelta(days=policy.entry_validity_days)
        self.links_per_account = max(1, policy.max_live_links_per_account)
        self.miniprogram_serial = 0

    def _ago(self, low_days: float, high_days: float) -> datetime:
        return self.now - timedelta(days=self.rng.uniform(low_days, high_days))

    def _quota_idle(self, batch: Batch, *, account_id: int) -> None:
        """A share quota counter that the hourly reset zeroed some earlier hour."""
        idle_since = self.this_window - timedelta(hours=self.rng.randint(2, 24 * 30))
        batch.add(ShareQuota, (account_id, idle_since, 0))

    def _whitelist(
        self,
        batch: Batch,
        *,
        account_id: int,
        account_serial: int,
        organization_id: int,
        kind: str,
        vertical: Vertical,
        followers_count: int,
    ) -> datetime:
        """An approved application, its evaluation and timeline, and the active entry it granted."""
        rng = self.rng
        valid_from = self._ago(*ENTRY_AGE_DAYS)
        created_at = valid_from - timedelta(days=rng.uniform(3, 20))
        submitted_at = created_at + timedelta(hours=rng.uniform(1, 48))
        team_size = rng.randint(max(1, self.rules.min_dev_team_size), max(60, self.rules.min_dev_team_size))
        services = [UserService.GOVERNMENT_SERVICES.value] if kind == OrganizationKind.GOVERNMENT else []
        wanted = rng.randint(max(1, self.rules.min_user_services), max(4, self.rules.min_user_services))
        others = [value for value in UserService.values if value not in services]
        services += rng.sample(others, min(len(others), wanted - len(services)))
        products = [{"name": "官方 App", "url": f"https://apps.scale-seed.example/{account_serial}"}]
        support = [
            SUPPORT_CHANNELS[0].format(rng.randint(100, 999), rng.randint(0, 9999)),
            SUPPORT_CHANNELS[1],
        ]
        facts = Facts(
            account_verified=True,
            vertical_code=vertical.code,
            vertical_name=str(vertical.name),
            followers_count=followers_count,
            has_in_house_team=True,
            dev_team_size=team_size,
            self_developed_products=products,
            services=services,
            support_channels=support,
            attachment_count=0,
            last_revoked_at=None,
            now=submitted_at,
        )
        results, recommendation = evaluate(facts, self.rules)
        application_id = self.next_id(WhitelistApplication)
        batch.add(
            WhitelistApplication,
            (
                application_id,
                account_id,
                organization_id,
                self.user_id,
                ApplicationState.APPROVED.value,
                True,
                team_size,
                json_text(products),
                json_text(services),
                json_text(support),
                "Refunds within 7 days, handled by our own service team.",
                "Our in-house team builds and runs the mini program.",
                submitted_at,
                valid_from,
                created_at,
                valid_from,
            ),
        )
        evaluation_id = self.next_id(Evaluation)
        batch.add(
            Evaluation,
            (
                evaluation_id,
                application_id,
                self.policy.pk,
                json_text([result.as_dict() for result in results]),
                str(recommendation),
                submitted_at,
            ),
        )
        for from_state, to_state, evaluation, at in (
            ("", ApplicationState.DRAFT.value, None, created_at),
            (ApplicationState.DRAFT.value, ApplicationState.SUBMITTED.value, evaluation_id, submitted_at),
            (ApplicationState.SUBMITTED.value, ApplicationState.APPROVED.value, None, valid_from),
        ):
            batch.add(
                # Emailed when they happened: the missed-notification sweep has nothing to send.
                ReviewEvent,
                (application_id, self.user_id, from_state, to_state, "", True, evaluation, at, at),
            )
        entry_id = self.next_id(WhitelistEntry)
        batch.add(
            WhitelistEntry,
            (
                entry_id,
                account_id,
                EntryState.ACTIVE.value,
                self.policy.default_share_limit_per_hour,
                valid_from,
                valid_from + self.validity,
                application_id,
                valid_from,
                valid_from,
            ),
        )
        batch.add(
            WhitelistEntryEvent,
            (
                entry_id,
                self.user_id,
                "granted",
                "",
                EntryState.ACTIVE.value,
                "",
                json_text({"policy": self.policy.version}),
                valid_from,
                valid_from,
            ),
        )
        return valid_from

    def _miniprograms(
        self, batch: Batch, *, organization_id: int, accounts: list[LinkedAccount], stem: str
    ) -> None:
        """The organization's mini programs, live on each linked account, and the accounts' shares."""
        rng = self.rng
        count = rng.choices(MINIPROGRAMS_PER_ORGANIZATION, weights=MINIPROGRAMS_WEIGHTS)[0]
        count = min(count, self.links_per_account)
        registered_at = min(account.valid_from for account in accounts) + timedelta(hours=rng.uniform(2, 12))
        miniprograms = []
        for name in rng.sample(MINIPROGRAM_NAMES, count):
            miniprogram_id = self.next_id(MiniProgram)
            self.miniprogram_serial += 1
            capabilities = sorted(rng.sample(Capability.values, rng.randint(1, 3)))
            batch.add(
                MiniProgram,
                (
                    miniprogram_id,
                    organization_id,
                    f"99{self.miniprogram_serial:014d}",
                    f"{stem}{name}"[: MiniProgram._meta.get_field("name").max_length],
                    f"{stem}{name}, built and run by our own team.",
                    "",
                    rng.choice(Category.values),
                    json_text(capabilities),
                    MiniProgramState.ACTIVE.value,
                    self.user_id,
                    registered_at,
                    registered_at,
                ),
            )
            miniprograms.append(miniprogram_id)
        for account in accounts:
            requested_at = max(registered_at, account.valid_from) + timedelta(hours=rng.uniform(1, 12))
            decided_at = requested_at + timedelta(hours=rng.uniform(1, 12))
            links = []
            for position, miniprogram_id in enumerate(miniprograms, start=1):
                link_id = self.next_id(ProfileLink)
                batch.add(
                    ProfileLink,
                    (
                        link_id,
                        miniprogram_id,
                        account.id,
                        ProfileLinkState.LIVE.value,
                        position,
                        self.user_id,
                        "",
                        self.user_id,
                        decided_at,
                        requested_at,
                        decided_at,
                    ),
                )
                batch.add(
                    ProfileLinkEvent,
                    (link_id, self.user_id, "", ProfileLinkState.PENDING_REVIEW.value, "", requested_at),
                )
                batch.add(
                    ProfileLinkEvent,
                    (
                        link_id,
                        self.user_id,
                        ProfileLinkState.PENDING_REVIEW.value,
                        ProfileLinkState.LIVE.value,
                        "",
                        decided_at,
                    ),
                )
                links.append((link_id, miniprogram_id))
            self._shares(batch, account=account, links=links)

    def _shares(self, batch: Batch, *, account: LinkedAccount, links: list[tuple[int, int]]) -> None:
        """The account's quota row, and its share in the last closed or the current hour if it shared."""
        rng = self.rng
        link_id, miniprogram_id = rng.choice(links)
        if account.shared == "last":
            window, shared_at = self.last_window, self.last_window + timedelta(seconds=rng.uniform(0, 3599))
        elif account.shared == "this":
            elapsed = max(0.0, (self.now - self.this_window).total_seconds())
            window, shared_at = (
                self.this_window,
                self.this_window + timedelta(seconds=rng.uniform(0, elapsed)),
            )
        else:
            # It shared some earlier hour; the hourly reset zeroed its counter since.
            self._quota_idle(batch, account_id=account.id)
            return
        limit = self.policy.default_share_limit_per_hour
        batch.add(ShareQuota, (account.id, window, 1))
        batch.add(Share, (account.id, miniprogram_id, link_id, None, window, 1, limit, "", "", shared_at))
