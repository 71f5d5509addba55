"""What every app's services share to write rows: the changed-fields update and the checked save."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction

from .errors import ApplicationError, InvalidInput

ModelT = TypeVar("ModelT", bound=models.Model)


def _has_field(instance: models.Model, name: str) -> bool:
    try:
        instance._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def model_update(
    *,
    instance: models.Model,
    data: Mapping[str, Any],
    fields: Iterable[str] | None = None,
    save: bool = True,
) -> list[str]:
    """Set the fields of `data` (those in `fields`, when given) that differ, and save only those.

    Returns the names that changed, so the caller can act on them (forget a cache, send the account
    back to unverified). `updated_at` is saved with them where the model has one. With save=False the
    caller saves (say through save_checked), passing the returned names.
    """
    allowed = set(data) if fields is None else set(fields) & set(data)
    changed = [name for name in data if name in allowed and getattr(instance, name) != data[name]]
    for name in changed:
        setattr(instance, name, data[name])
    if changed and save:
        instance.save(update_fields=update_fields_of(instance, changed))
    return changed


def update_fields_of(instance: models.Model, changed: Sequence[str]) -> list[str]:
    """The update_fields for these changes: the changed names and `updated_at` where there is one."""
    return [*changed, "updated_at"] if _has_field(instance, "updated_at") else list(changed)


def save_checked(
    instance: models.Model,
    *,
    unique: Mapping[str, Any],
    duplicate: Callable[[], ApplicationError],
    update_fields: list[str] | None = None,
    clean_exclude: Sequence[str] = (),
) -> None:
    """Validate the fields, refuse a duplicate by name, then save; a racing duplicate gets the same error.

    The duplicate check reads first, so the usual case is answered with the field's message; the
    unique constraint behind `unique` catches the insert that raced past the check.
    """
    try:
        instance.full_clean(exclude=list(clean_exclude), validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        raise InvalidInput.from_django(exc) from exc
    duplicates = type(instance)._default_manager.filter(**unique)
    if instance.pk:
        duplicates = duplicates.exclude(pk=instance.pk)
    if duplicates.exists():
        raise duplicate()
    try:
        with transaction.atomic():
            instance.save(update_fields=update_fields)
    except IntegrityError as exc:
        raise duplicate() from exc
