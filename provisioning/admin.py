"""Staff pages for what happens to servers: operations (with their logs, cancel and retry),
OS templates, boot tickets; and the server admin with the actions and forms that start
operations, added here to inventory's so that inventory imports nothing from provisioning."""

from functools import partial

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

from inventory.admin import ServerAdmin
from inventory.models import Server
from panel.admin import (
    AuditedAdmin,
    CappedCountPaginator,
    ChosenOnlyFilter,
    ReadOnlyAdmin,
    as_id,
)
from panel.exceptions import PanelError, error_text
from panel.models import User
from provisioning import services
from provisioning.admin_actions import (
    OPERATION_ACTIONS,
    PROVISIONING_PAGE_ACTIONS,
    operation_link,
)
from provisioning.models import BootTicket, DiskImage, Operation, OperationEvent, OsTemplate

RECENT_OPERATIONS = 10


class OperatedServerAdmin(ServerAdmin):
    actions = [*OPERATION_ACTIONS, *ServerAdmin.actions]
    page_actions = [*PROVISIONING_PAGE_ACTIONS, *ServerAdmin.page_actions]

    def console(self, request, server):
        operations = server.operations.select_related("requested_by")
        return {
            **super().console(request, server),
            "operations_panel": "admin/provisioning/server_operations.html",
            "active_operation": operations.filter(state__in=Operation.ACTIVE_STATES).first(),
            "recent_operations": operations[:RECENT_OPERATIONS],
        }


admin.site.unregister(Server)
admin.site.register(Server, OperatedServerAdmin)


class RequestedByFilter(admin.SimpleListFilter):
    """Staff by name (a handful), the panel itself; a customer by `?requested_by=<id>` (the
    link on a user's operations), without listing every customer."""

    title = "requested by"
    parameter_name = "requested_by"

    def lookups(self, request, model_admin):
        staff = User.objects.filter(role=User.Role.ADMIN).order_by("email")
        return [("panel", "The panel itself"), *((str(u.pk), u.email) for u in staff)]

    def queryset(self, request, queryset):
        if self.value() == "panel":
            return queryset.filter(requested_by__isnull=True)
        pk = as_id(self.value())
        return queryset if pk is None else queryset.filter(requested_by_id=pk)


class ServerFilter(ChosenOnlyFilter):
    """One server's operations (`?server=<id>`, linked from its page)."""

    title = "server"
    parameter_name = "server"

    def chosen(self, pk):
        return Server.objects.filter(pk=pk)


class OperationEventInline(admin.TabularInline):
    model = OperationEvent
    fields = ["created_at", "level", "step", "message"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "log line"
    verbose_name_plural = "event log"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _duration(operation: Operation) -> str:
    if operation.started_at is None:
        return "—"
    end = operation.finished_at or operation.updated_at
    return timesince(operation.started_at, end) if end > operation.started_at else "0 minutes"


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    """Read-only: operations change only through the services (and their workers)."""

    list_display = [
        "number",
        "server_link",
        "kind",
        "state",
        "progress_bar",
        "step",
        "requested_by",
        "created_at",
        "duration",
    ]
    list_filter = [
        "state",
        "kind",
        ServerFilter,
        ("server__rack__location", admin.RelatedFieldListFilter),
        RequestedByFilter,
        "created_at",
    ]
    search_fields = ["server__name"]
    search_help_text = "A server's name, or an operation's number (#123)."
    list_select_related = ["server", "requested_by"]
    list_per_page = 50
    paginator = CappedCountPaginator
    show_full_result_count = False
    actions = ["cancel", "retry"]
    inlines = [OperationEventInline]
    change_form_template = "admin/provisioning/operation/change_form.html"
    fieldsets = [
        (None, {"fields": ["number", "server_link", "kind", "state", "step", "progress_bar"]}),
        ("Outcome", {"fields": ["error", "result_shown"]}),
        ("Parameters", {"fields": ["params_shown", "boot_ticket"]}),
        (
            "Times",
            {
                "fields": [
                    "requested_by",
                    "created_at",
                    "started_at",
                    "finished_at",
                    "duration",
                    "deadline",
                    "cancel_requested_at",
                    "cancel_requested_by",
                    "attempts",
                ]
            },
        ),
    ]
    readonly_fields = [name for _, section in fieldsets for name in section["fields"]]

    def get_search_results(self, request, queryset, search_term):
        """`123` or `#123` is an operation's number; anything else a server's name."""
        number = as_id(search_term.strip().lstrip("#"))
        if number is not None:
            return queryset.filter(pk=number), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="#", ordering="id")
    def number(self, operation):
        return f"#{operation.pk}"

    @admin.display(description="server", ordering="server__name")
    def server_link(self, operation):
        url = reverse("admin:inventory_server_change", args=[operation.server_id])
        return format_html('<a href="{}">{}</a>', url, operation.server.name)

    @admin.display(description="progress", ordering="progress")
    def progress_bar(self, operation):
        return format_html(
            '<progress max="100" value="{}" aria-label="{} %"></progress> {} %',
            operation.progress,
            operation.progress,
            operation.progress,
        )

    @admin.display(description="duration")
    def duration(self, operation):
        return _duration(operation)

    @admin.display(description="parameters")
    def params_shown(self, operation):
        params = operation.params_after_end()  # never the root password's hash
        if not params:
            return "—"
        rows = ((name, _param_text(value)) for name, value in sorted(params.items()))
        return format_html(
            "<dl class='operation-params'>{}</dl>",
            format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows),
        )

    @admin.display(description="result")
    def result_shown(self, operation):
        rows = ((name, _param_text(value)) for name, value in sorted(operation.result.items()))
        return format_html_join("", "<div>{}: {}</div>", rows) or "—"

    @admin.display(description="boot ticket")
    def boot_ticket(self, operation):
        ticket = BootTicket.objects.filter(operation=operation).first()
        if ticket is None:
            return "—"
        url = reverse("admin:provisioning_bootticket_change", args=[ticket.pk])
        return format_html('<a href="{}">{}</a>', url, ticket.get_state_display())

    # Cancel and retry: changelist actions, and buttons on the operation's page.

    def _each(self, request, queryset, service, done: str) -> None:
        started, refused = [], []
        for operation in queryset.select_related("server"):
            try:
                result = service(actor=request.user, operation=operation)
            except (PanelError, ValidationError) as exc:
                refused.append(f"#{operation.pk}: {error_text(exc)}")
            else:
                started.append((operation_link(result),))
        if started:
            links = format_html_join(", ", "{}", started)
            self.message_user(request, format_html("{}: {}.", done, links), messages.SUCCESS)
        if refused:
            self.message_user(request, "Refused: " + " · ".join(refused), messages.ERROR)

    @admin.action(description="Cancel the selected operations")
    def cancel(self, request, queryset):
        self._each(request, queryset, services.cancel_operation, "Cancel requested")

    @admin.action(description="Retry the selected operations (new operations, same parameters)")
    def retry(self, request, queryset):
        self._each(request, queryset, services.retry_operation, "Started again as")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                f"<path:object_id>/{verb}/",
                wrap(partial(self.verb_view, run=getattr(self, verb))),
                name=f"provisioning_operation_{verb}",
            )
            for verb in ("cancel", "retry")
        ] + super().get_urls()

    def verb_view(self, request, object_id, run):
        """POST from the operation's page: cancel or retry it, then back to a page to follow."""
        if request.method != "POST":
            raise Http404
        if not self.has_view_permission(request):
            raise PermissionDenied
        queryset = self.get_queryset(request).filter(pk=unquote(object_id))
        if not queryset.exists():
            raise Http404
        run(request, queryset)
        return redirect("admin:provisioning_operation_change", object_id)

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["subtitle"] = (
                f"#{obj.pk} {obj.get_kind_display()} on {obj.server.name} "
                f"({obj.get_state_display().lower()})"
            )
            context["cancellable"] = services.is_cancellable(obj)
            context["retryable"] = obj.state in services.RETRYABLE_STATES
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


def _param_text(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "—"
    return str(value)


@admin.register(OsTemplate)
class OsTemplateAdmin(AuditedAdmin):
    list_display = ["name", "family", "is_public", "is_utility", "updated_at"]
    list_filter = ["family", "is_public", "is_utility"]
    search_fields = ["name", "description"]

    def delete_model(self, request, obj):
        services.delete_os_template(actor=request.user, template=obj)

    def delete_view(self, request, object_id, extra_context=None):
        """A template being installed is refused with a message, not a 500."""
        try:
            return super().delete_view(request, object_id, extra_context)
        except PanelError as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
            return redirect("admin:provisioning_ostemplate_change", object_id)


@admin.register(BootTicket)
class BootTicketAdmin(ReadOnlyAdmin):
    """Read-only, and never the secret (only its hash is stored; not shown either)."""

    list_display = ["operation_link", "server", "mac", "state", "source_address", "expires_at"]
    list_filter = ["state"]
    search_fields = ["mac", "server__name", "source_address"]
    list_select_related = ["server", "operation"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    fields = [
        "operation_link",
        "server",
        "mac",
        "state",
        "source_address",
        "expires_at",
        "booted_at",
        "config_fetched_at",
        "finished_at",
        "last_event_at",
        "events_received",
        "message",
    ]
    readonly_fields = fields

    @admin.display(description="operation", ordering="operation_id")
    def operation_link(self, ticket):
        return operation_link(ticket.operation)


@admin.register(DiskImage)
class DiskImageAdmin(ReadOnlyAdmin):
    """Images are made by captures; staff read them and delete them (pieces and all)."""

    list_display = ["name", "owner", "state", "source_configuration", "stored", "created_at"]
    list_filter = ["state"]
    search_fields = ["name", "owner__email"]
    list_select_related = ["owner"]
    fields = [
        "name",
        "owner",
        "state",
        "source_server",
        "source_configuration",
        "source_os",
        "disk_lines",
        "stored",
        "created_at",
        "ready_at",
    ]
    readonly_fields = fields
    actions = ["delete_images"]

    @admin.display(description="stored", ordering="stored_bytes")
    def stored(self, image):
        return f"{image.stored_bytes / 1e9:.2f} GB of {image.raw_bytes / 1e9:.2f} GB"

    @admin.display(description="disks")
    def disk_lines(self, image):
        return format_html_join(
            mark_safe("<br>"),
            "{}: {} bytes, SHA-256 {}",
            ((disk["name"], disk["bytes"], disk["sha256"] or "—") for disk in image.disks),
        )

    @admin.action(description="Delete the selected images and their pieces")
    def delete_images(self, request, queryset):
        for image in queryset:
            try:
                services.delete_image(actor=request.user, image=image)
            except PanelError as exc:
                self.message_user(request, error_text(exc), messages.ERROR)
            else:
                self.message_user(request, f"Deleted {image.name}.")
