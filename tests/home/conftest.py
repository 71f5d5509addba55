from collections.abc import Iterator

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english_outside_requests() -> Iterator[None]:
    """Texts read outside a request are English here, whatever a Chinese page activated before."""
    with translation.override("en"):
        yield
