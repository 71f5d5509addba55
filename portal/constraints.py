"""Database constraints shared by the apps' models."""

from django.db import models
from django.db.models import Q


def choices_constraint(field: str, choices: type[models.TextChoices], name: str) -> models.CheckConstraint:
    """Hold a TextChoices field to its choices in the database, not only in forms."""
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)
