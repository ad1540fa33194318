"""Admin permission mixins shared by every app's admin. Records (ledgers, logs,
audit rows) are never edited in the admin, and state changes go through the
buttons and actions that call services, never through a status field."""

from __future__ import annotations


class NoAddDeleteMixin:
    """Rows appear and stay through services (kept for the record): no add or
    delete in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdminMixin(NoAddDeleteMixin):
    """A record shown as it is: no add, change or delete."""

    def has_change_permission(self, request, obj=None):
        return False


class ActionsOnlyAdminMixin(NoAddDeleteMixin):
    """The change list (and its actions) for whoever may change the model, but
    no edit form: objects change through the page's buttons, which call services."""

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)
