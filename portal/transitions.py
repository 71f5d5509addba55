"""The state machine scaffolding every app's transitions share: a move that only one of two racers wins."""

from collections.abc import Callable, Mapping
from typing import Any

from django.db import models

from .errors import Conflict


def invalid_transition(message: str) -> Conflict:
    """The 409 for an action the current state does not allow; the message names both."""
    return Conflict(message, code="invalid-transition")


def state_move(
    instance: models.Model,
    *,
    allowed_from: tuple[str, ...],
    changes: Mapping[str, Any],
    refused: Callable[[], Conflict],
) -> str:
    """Apply `changes` (a new `state` among them) to the locked row if its state allows; return the old state.

    The conditional UPDATE keeps the move safe where SELECT ... FOR UPDATE does nothing (SQLite): of two
    concurrent movers, only one finds the row still in the state it read. `refused` builds the error
    from the instance, which holds the state found when the move was refused.
    """
    from_state: str = instance.state  # type: ignore[attr-defined]
    if from_state not in allowed_from:
        raise refused()
    moved = type(instance)._default_manager.filter(pk=instance.pk, state=from_state).update(**changes)
    if not moved:
        instance.refresh_from_db(fields=["state"])
        raise refused()
    for name, value in changes.items():
        setattr(instance, name, value)
    return from_state
