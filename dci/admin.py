from django.contrib import admin, messages

from dci import sessions
from dci.models import DciSession


@admin.action(description="Revoke (log out now)")
def revoke(modeladmin, request, queryset):
    chosen = list(queryset.select_related("user"))
    for session in chosen:
        sessions.revoke_session(actor=request.user, session=session)
    modeladmin.message_user(request, f"Sessions revoked: {len(chosen)}.", messages.SUCCESS)


@admin.register(DciSession)
class DciSessionAdmin(admin.ModelAdmin):
    """Who is logged in to the DCImanager API, from where; staff can end a session. The token
    itself is never kept, so there is nothing secret to show or to set."""

    list_display = [
        "user",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "source_ip",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__email", "prefix"]
    list_select_related = ["user"]
    fields = ["user", *list_display[1:]]
    readonly_fields = fields
    actions = [revoke]

    def has_add_permission(self, request):
        return False  # sessions are opened by logging in to the API

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead; ended sessions are deleted by later logins
