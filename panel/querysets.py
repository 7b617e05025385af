"""Visibility, decided once: staff see everything, a customer what they own."""

from django.db import models


class OwnedQuerySet(models.QuerySet):
    """A queryset of things a customer owns through `owner_path` (e.g. "server__owner")."""

    owner_path = "owner"

    def visible_to(self, user):
        if not user.is_authenticated:
            return self.none()
        if user.is_admin:
            return self
        return self.filter(**{self.owner_path: user})
