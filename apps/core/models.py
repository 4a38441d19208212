"""Base models shared by the apps."""

from __future__ import annotations

from typing import Any

from django.db import models


class AppendOnlyQuerySet(models.QuerySet):
    """Refuses bulk update and delete: audit records are written once."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("This record is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("This record is append-only.")


class AppendOnlyModel(models.Model):
    """A row written once: no update, no delete, through any ORM path."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError(f"{type(self).__name__} records are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError(f"{type(self).__name__} records are append-only.")
