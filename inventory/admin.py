from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from inventory import ipam, services
from inventory.admin_actions import SERVER_ACTIONS
from inventory.importing import COLUMNS, import_servers
from inventory.models import (
    Bmc,
    HardwareProfile,
    IpAddress,
    IpPool,
    Location,
    Network,
    Rack,
    Server,
    SwitchPort,
)
from panel.admin import AuditedAdmin
from panel.exceptions import PanelError, error_text


class BmcForm(forms.ModelForm):
    """The password is write-only: typed to set it, never shown back."""

    new_password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the stored password.",
    )

    class Meta:
        model = Bmc
        fields = ["address", "port", "username", "new_password"]

    def clean(self):
        cleaned = super().clean()
        if (
            not self.instance.password_encrypted
            and not cleaned.get("new_password")
            and self.has_changed()
        ):
            self.add_error("new_password", "A new BMC needs its password.")
        return cleaned

    def save(self, commit=True):
        if self.cleaned_data.get("new_password"):
            self.instance.set_password(self.cleaned_data["new_password"])
        return super().save(commit)


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8, with a header row")

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is not None:
            if upload.size > 5_000_000:
                raise forms.ValidationError("The file is larger than 5 MB.")
            try:
                cleaned["text"] = upload.read().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise forms.ValidationError("The file is not UTF-8 text.") from exc
        return cleaned


class IpAddressForm(forms.ModelForm):
    """Moving an address to another server keeps IPAM's rule: only where its network is."""

    class Meta:
        model = IpAddress
        fields = ["server", "is_main", "status"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("server") is not None:
            ipam.check_location(cleaned["server"], self.instance.pool.network, field="server")
        return cleaned


class BmcInline(admin.StackedInline):
    model = Bmc
    form = BmcForm
    can_delete = False
    readonly_fields = ["power_state", "power_state_read_at", "reachable", "last_seen", "last_error"]


class IpAddressInline(admin.TabularInline):
    model = IpAddress
    extra = 0
    fields = ["address", "pool", "is_main", "status"]
    readonly_fields = ["address", "pool"]
    can_delete = True

    def has_add_permission(self, request, obj=None):
        return False  # allocation goes through IPAM (API), which picks a free address under a lock


@admin.register(Server)
class ServerAdmin(AuditedAdmin):
    list_display = [
        "name",
        "profile",
        "location",
        "rack",
        "unit",
        "owner",
        "state",
        "suspended",
        "power_state",
        "reachable",
        "main_ip",
    ]
    list_filter = [
        "state",
        "suspended",
        "rack__location",
        "rack",
        "profile",
        "bmc__power_state",
        "bmc__reachable",
        ("owner", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = [
        "name",
        "serial",
        "mac",
        "owner__email",
        "ip_addresses__address",
        "bmc__address",
    ]
    list_select_related = ["profile", "rack__location", "owner", "bmc"]
    # Owners change only through the assign and release actions: the services check the
    # customer and refuse a server with an operation in progress.
    readonly_fields = ["owner", "hardware_info", "created_at", "updated_at"]
    inlines = [BmcInline, IpAddressInline]
    actions = SERVER_ACTIONS
    change_list_template = "admin/inventory/server/change_list.html"
    fieldsets = [
        (None, {"fields": ["name", "profile", "state", "suspended", "owner", "current_os"]}),
        ("Placement", {"fields": ["rack", "unit", "mac", "serial"]}),
        ("Details", {"fields": ["hardware_info", "notes", "created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_main_ipv4()

    def get_actions(self, request):
        """Bulk deletes go through `delete_servers`, which reports each refusal."""
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request, obj):
        services.delete_server(actor=request.user, server=obj)

    def delete_view(self, request, object_id, extra_context=None):
        """A refused delete (owned, or an operation in progress) is a message, not a 500."""
        try:
            return super().delete_view(request, object_id, extra_context)
        except PanelError as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
            return redirect("admin:inventory_server_change", object_id)

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="inventory_server_import"), *super().get_urls()]

    def import_view(self, request):
        """Bulk enrolment from a CSV upload: all rows or none, refusals listed by line."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            report = import_servers(actor=request.user, text=form.cleaned_data["text"])
            if report.ok:
                enrolled = len(report.enrolled)
                self.message_user(request, f"Enrolled {enrolled} servers.", messages.SUCCESS)
        context = {
            **self.admin_site.each_context(request),
            "title": "Import servers from CSV",
            "form": form,
            "report": report,
            "columns": COLUMNS,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/inventory/server/import.html", context)

    @admin.display(description="found by diagnostics")
    def hardware_info(self, server):
        rows = server.hardware_rows()
        return format_html_join(mark_safe("<br>"), "{}: {}", rows) if rows else "—"

    @admin.display(ordering="rack__location__name")
    def location(self, server):
        return server.rack.location if server.rack_id else "—"

    @admin.display(ordering="bmc__power_state", description="power")
    def power_state(self, server):
        return server.bmc.get_power_state_display() if hasattr(server, "bmc") else "—"

    @admin.display(boolean=True, ordering="bmc__reachable", description="BMC reachable")
    def reachable(self, server):
        return server.bmc.reachable if hasattr(server, "bmc") else None

    @admin.display(ordering="main_ipv4", description="main IPv4")
    def main_ip(self, server):
        return server.main_ipv4 or "—"


@admin.register(Bmc)
class BmcAdmin(AuditedAdmin):
    form = BmcForm
    list_display = [
        "server",
        "address",
        "port",
        "username",
        "power_state",
        "reachable",
        "last_seen",
    ]
    list_filter = ["power_state", "reachable"]
    search_fields = ["server__name", "address"]
    list_select_related = ["server"]
    readonly_fields = ["power_state", "power_state_read_at", "reachable", "last_seen", "last_error"]

    def get_fields(self, request, obj=None):
        return ["server", *BmcForm.Meta.fields, *self.readonly_fields]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = ["server", *BmcForm.Meta.fields]
        return super().get_form(request, obj, change, **kwargs)


@admin.register(Location)
class LocationAdmin(AuditedAdmin):
    list_display = ["name", "address", "rack_count"]
    search_fields = ["name", "address"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(rack_count=Count("racks"))

    @admin.display(ordering="rack_count", description="racks")
    def rack_count(self, location):
        return location.rack_count


@admin.register(Rack)
class RackAdmin(AuditedAdmin):
    list_display = ["name", "location", "size_u", "server_count"]
    list_filter = ["location"]
    search_fields = ["name", "location__name"]
    list_select_related = ["location"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(server_count=Count("servers"))

    @admin.display(ordering="server_count", description="servers")
    def server_count(self, rack):
        return rack.server_count


@admin.register(HardwareProfile)
class HardwareProfileAdmin(AuditedAdmin):
    list_display = [
        "name",
        "cpu",
        "ram_gb",
        "disk_count",
        "disk_size_gb",
        "disk_kind",
        "free_server_count",
        "total_server_count",
    ]
    list_filter = ["disk_kind"]
    search_fields = ["name", "cpu"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_server_counts()

    @admin.display(ordering="free_server_count", description="free")
    def free_server_count(self, profile):
        return profile.free_server_count

    @admin.display(ordering="total_server_count", description="total")
    def total_server_count(self, profile):
        return profile.total_server_count


@admin.register(SwitchPort)
class SwitchPortAdmin(AuditedAdmin):
    list_display = ["switch", "name", "if_index", "server", "admin_status", "oper_status"]
    list_filter = ["admin_status", "oper_status", "switch"]
    search_fields = ["switch__name", "name", "description", "server__name"]
    list_select_related = ["switch", "server"]
    autocomplete_fields = ["server"]


@admin.register(Network)
class NetworkAdmin(AuditedAdmin):
    list_display = ["name", "cidr", "family", "gateway", "vlan", "location", "boot"]
    list_filter = ["family", "location", "boot"]
    search_fields = ["name", "cidr", "description"]
    list_select_related = ["location"]


@admin.register(IpPool)
class IpPoolAdmin(AuditedAdmin):
    list_display = ["name", "network", "first_address", "last_address", "is_public", "used", "size"]
    list_filter = ["is_public", "network"]
    search_fields = ["name", "network__cidr"]
    list_select_related = ["network"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_usage()

    @admin.display(ordering="used_count")
    def used(self, pool):
        return pool.used_count

    @admin.display(description="can hand out")
    def size(self, pool):
        return pool.size


@admin.register(IpAddress)
class IpAddressAdmin(AuditedAdmin):
    form = IpAddressForm
    list_display = ["address", "family", "pool", "server", "is_main", "status"]
    list_filter = ["family", "status", "is_main", "pool__network"]
    search_fields = ["address", "server__name"]
    list_select_related = ["pool__network", "server"]
    readonly_fields = ["address", "family", "pool"]

    def has_add_permission(self, request):
        return False  # allocation goes through IPAM, which picks a free address under a lock
