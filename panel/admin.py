from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from panel import audit, services, twofactor
from panel.exceptions import PanelError
from panel.models import ApiToken, AuditEvent, SshKey, User


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows: a log grows without bound (operations, audit events, webhook
    deliveries), and counting a million rows on every page view is the slowest thing its list
    would do. Pair with `show_full_result_count = False`."""

    CAP = 10_000

    @cached_property
    def count(self):
        return self.object_list.values("pk")[: self.CAP].count()


def as_id(text: str | None) -> int | None:
    """The row id a typed URL or search names, or None for anything that cannot be one (a
    number past the database's ids would be an overflow, a 500)."""
    if text and text.isdigit() and int(text) < 2**63:
        return int(text)
    return None


class ChosenOnlyFilter(admin.SimpleListFilter):
    """A filter on a relation with too many rows to list (servers, customers, racks): none is
    listed, the chosen one is shown; pages link to `?<parameter_name>=<id>`, where
    parameter_name is the relation's field name."""

    def chosen(self, pk: int):
        """The chosen row, as a queryset of at most one (a subclass may select what its name
        reads)."""
        raise NotImplementedError

    def chosen_pk(self) -> int | None:
        return as_id(self.value())

    def lookups(self, request, model_admin):
        pk = self.chosen_pk()
        return [] if pk is None else [(str(pk), str(row)) for row in self.chosen(pk)]

    def has_output(self):
        return True

    def queryset(self, request, queryset):
        pk = self.chosen_pk()
        return queryset if pk is None else queryset.filter(**{f"{self.parameter_name}_id": pk})


class IndexedValuesFilter(admin.AllValuesFieldListFilter):
    """A column's values (an audit action, an event type: dozens over millions of rows) read by
    skipping through its index, one probe per value, not by a DISTINCT over every row."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        table, column = map(connection.ops.quote_name, (field.model._meta.db_table, field.column))
        with connection.cursor() as cursor:
            cursor.execute(
                # Names from the model's own metadata, no input.
                f"WITH RECURSIVE v(value) AS (SELECT MIN({column}) FROM {table} UNION ALL "  # noqa: S608
                f"SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > v.value) FROM v "
                "WHERE v.value IS NOT NULL) SELECT value FROM v WHERE value IS NOT NULL"
            )
            self.lookup_choices = [value for (value,) in cursor.fetchall()]


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record staff read: what changes it is a service or a worker, never this page."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OneByOneDeleteAdmin(admin.ModelAdmin):
    """Bulk deletes go through delete_model, so each one is audited like a single delete."""

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class AuditedAdmin(OneByOneDeleteAdmin):
    """Admin saves and deletes land in the audit log like any other change."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit.record(
            actor=request.user,
            action=f"{obj._meta.model_name}.{'update' if change else 'create'}",
            target=obj,
            via="admin",
            changed=sorted(form.changed_data),
        )

    def delete_model(self, request, obj):
        audit.record(
            actor=request.user, action=f"{obj._meta.model_name}.delete", target=obj, via="admin"
        )
        super().delete_model(request, obj)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        for obj, changed in formset.changed_objects:
            audit.record(
                actor=request.user,
                action=f"{obj._meta.model_name}.update",
                target=obj,
                via="admin",
                changed=changed,
            )
        for obj in formset.new_objects:
            audit.record(
                actor=request.user, action=f"{obj._meta.model_name}.create", target=obj, via="admin"
            )
        for obj in formset.deleted_objects:
            audit.record(
                actor=request.user, action=f"{obj._meta.model_name}.delete", target=obj, via="admin"
            )


# The app list sits on the index and behind "Home": as a sidebar it took a quarter of every
# page, and the server list's columns went behind a horizontal scroll at 1280 px.
admin.site.enable_nav_sidebar = False


class PanelUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ["email", "full_name", "phone", "role"]


class PanelUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = ["email", "full_name", "phone", "role", "is_active", "two_factor_required"]


@admin.register(User)
class UserAdmin(AuditedAdmin, DjangoUserAdmin):
    form = PanelUserChangeForm
    add_form = PanelUserCreationForm
    change_password_form = AdminPasswordChangeForm
    list_display = [
        "email",
        "full_name",
        "role",
        "is_active",
        "two_factor",
        "server_count",
        "last_login",
    ]
    list_filter = ["role", "is_active", "two_factor_required"]
    actions = ["reset_two_factor"]
    search_fields = ["email", "full_name", "phone"]
    ordering = ["email"]
    filter_horizontal = []
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["full_name", "phone"]}),
        (
            "Access",
            {
                "fields": [
                    "role",
                    "is_active",
                    "two_factor_required",
                    "last_login",
                    "date_joined",
                ]
            },
        ),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "full_name", "phone", "role", "password1", "password2"],
            },
        ),
    ]
    readonly_fields = ["last_login", "date_joined"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(server_count=Count("servers"), has_two_factor=twofactor.enabled_annotation())
        )

    @admin.display(boolean=True, ordering="has_two_factor", description="2FA")
    def two_factor(self, obj):
        return obj.has_two_factor

    @admin.action(description="Reset the second factor of the selected users")
    def reset_two_factor(self, request, queryset):
        for user in queryset:
            try:
                twofactor.reset(actor=request.user, user=user)
            except PanelError as exc:
                self.message_user(request, exc.message, messages.WARNING)
            else:
                self.message_user(
                    request,
                    f"{user.email}: second factor removed; they log in with their password "
                    "(and enrol again where it is required).",
                )

    @admin.display(ordering="server_count", description="servers")
    def server_count(self, obj):
        url = reverse("admin:inventory_server_changelist")
        return format_html('<a href="{}?owner={}">{}</a>', url, obj.pk, obj.server_count)


@admin.register(SshKey)
class SshKeyAdmin(OneByOneDeleteAdmin):
    """Keys belong to their users (portal and API); staff may look and delete."""

    list_display = ["name", "user", "key_type", "fingerprint", "created_at"]
    list_filter = ["key_type"]
    search_fields = ["name", "fingerprint", "user__email"]
    list_select_related = ["user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.delete_ssh_key(actor=request.user, key=obj)


@admin.register(ApiToken)
class ApiTokenAdmin(OneByOneDeleteAdmin):
    list_display = ["prefix", "name", "user", "scope", "expires_at", "last_used_at", "last_used_ip"]
    list_filter = ["scope"]
    search_fields = ["prefix", "name", "user__email"]
    list_select_related = ["user"]
    fields = [
        "user",
        "name",
        "prefix",
        "scope",
        "allowed_cidrs",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "created_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # made by `manage.py create_api_token` or the portal: the key is shown once

    def delete_model(self, request, obj):
        services.revoke_api_token(actor=request.user, token=obj)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "actor_email",
        "source_ip",
        "action",
        "target_type",
        "target_repr",
    ]
    # By age (today, past 7 days, this month, this year), not a date hierarchy: its links are
    # the distinct days of every row, a scan of the whole log on each page view.
    list_filter = [
        "created_at",
        ("action", IndexedValuesFilter),
        ("target_type", IndexedValuesFilter),
    ]
    search_fields = ["actor_email", "action", "target_repr", "target_id", "source_ip"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
