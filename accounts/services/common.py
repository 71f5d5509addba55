"""What the accounts services share: the refusals of fields and models, and the rate counter."""

import time
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

from portal.errors import InvalidInput
from portal.throttling import COUNTER_FAILURES

RATE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def refuse_fields_not_editable(data: Mapping[str, Any], editable: Iterable[str]) -> None:
    """Refuse, by field, every field of `data` that is not among `editable`."""
    unknown = set(data) - set(editable)
    if unknown:
        raise InvalidInput({field: [_("This field cannot be changed.")] for field in sorted(unknown)})


def full_clean(instance: models.Model, **options: Any) -> None:
    """The model's full_clean, its refusal as the services' error (InvalidInput)."""
    try:
        instance.full_clean(**options)
    except ValidationError as exc:
        raise InvalidInput.from_django(exc) from exc


def rate_spent(key: str, rate: str) -> bool:
    """Count one use of key against rate ("3/hour"): whether the window's uses were already spent.

    A fixed window in the "throttle" cache; with Redis unreachable nothing is counted and nothing refused.
    """
    count_text, unit = rate.split("/", 1)
    limit, window = int(count_text), RATE_UNITS[unit.strip()[0]]
    cache = caches["throttle"]
    window_key = f"{key}:{int(time.time() // window)}"
    try:
        cache.add(window_key, 0, window)
        used = cache.incr(window_key)
    except COUNTER_FAILURES:
        return False
    return bool(used > limit)
