from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from inventory import ipam, services
from inventory.admin_actions import SERVER_ACTIONS
from inventory.admin_pages import INVENTORY_PAGE_ACTIONS, page_action_view
from inventory.importing import COLUMNS, CONNECTION_HELP, import_servers
from inventory.models import (
    Bmc,
    HardwareProfile,
    IpAddress,
    IpPool,
    Location,
    Network,
    Pdu,
    PduOutlet,
    Rack,
    Server,
    SnmpDevice,
    Switch,
    SwitchPort,
)
from panel.admin import AuditedAdmin, ChosenOnlyFilter
from panel.exceptions import PanelError, error_text
from panel.models import User


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
        """A stored BMC saves only what the form changed: its power readings and sweep claims
        are the power sync's, written meanwhile by other processes."""
        fields = [name for name in self.changed_data if name in self.Meta.fields]
        if self.cleaned_data.get("new_password"):
            self.instance.set_password(self.cleaned_data["new_password"])
            fields = [name for name in fields if name != "new_password"] + ["password_encrypted"]
        if not (commit and self.instance.pk):
            return super().save(commit)
        if fields:
            self.instance.save(update_fields=fields)
        return self.instance


def _secret_field(label: str, **options) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        **options,
    )


class SnmpDeviceForm(forms.ModelForm):
    """The SNMP secrets are write-only: typed to set them, never shown back; left empty, the
    stored one is kept; "clear" removes it."""

    community = _secret_field("Community")
    clear_community = forms.BooleanField(required=False, label="Clear the stored community")
    auth_key = _secret_field("Auth key", min_length=services.SNMP_KEY_MIN_LENGTH)
    clear_auth_key = forms.BooleanField(required=False, label="Clear the stored auth key")
    priv_key = _secret_field("Privacy key", min_length=services.SNMP_KEY_MIN_LENGTH)
    clear_priv_key = forms.BooleanField(required=False, label="Clear the stored privacy key")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SnmpDevice.SECRETS:
            stored = self.instance.has_secret(name)
            self.fields[name].help_text = (
                "One is stored (never shown). Type a new one to replace it, or leave empty to "
                "keep it."
                if stored
                else "None is stored."
            )
            if not stored:
                del self.fields[f"clear_{name}"]

    def secrets(self) -> dict[str, str]:
        """What to set (typed) or clear (""); secrets not named keep their stored value."""
        typed = {name: self.cleaned_data[name] for name in SnmpDevice.SECRETS}
        return {
            name: value
            for name, value in typed.items()
            if value or self.cleaned_data.get(f"clear_{name}")
        }

    def clean(self):
        cleaned = super().clean()
        for name in SnmpDevice.SECRETS:
            if cleaned.get(name) and cleaned.get(f"clear_{name}"):
                self.add_error(name, "Type a new one or clear the stored one, not both.")
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        if not self.errors:
            try:
                services.check_snmp_device(self.instance, self.secrets())
            except ValidationError as exc:
                self._update_errors(exc)


class ConnectionPointForm(forms.ModelForm):
    """A switch port or PDU outlet edited on its own: a server change is checked as the
    services check it (one connected elsewhere is disconnected first, not moved)."""

    def _post_clean(self):
        super()._post_clean()
        if not self.errors:
            try:
                services.check_connection_point(self.instance)
            except ValidationError as exc:
                self._update_errors(exc)


class ServerConnectionForm(forms.ModelForm):
    """A row of a server's switch ports or PDU outlets on its page: a new row names a port
    (switch and port name) or outlet (PDU and number), created if the device has none yet;
    a row already there keeps its device and name."""

    device_field = key_field = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for name in (self.device_field, self.key_field):
                self.fields[name].disabled = True

    def clean(self):
        cleaned = super().clean()
        device, key = cleaned.get(self.device_field), cleaned.get(self.key_field)
        if self.instance.pk is None and device is not None and key not in (None, ""):
            lookup = {self.device_field: device, self.key_field: key}
            existing = self._meta.model.objects.filter(**lookup).select_related("server").first()
            if existing and existing.server_id not in (None, self.instance.server_id):
                self.add_error(self.key_field, services.move_refusal(existing))
            elif existing:
                self.instance = existing  # the row names a port or outlet there is: connect it
        return cleaned


class ServerSwitchPortForm(ServerConnectionForm):
    device_field, key_field = "switch", "name"

    class Meta:
        model = SwitchPort
        fields = ["switch", "name", "is_ipmi_connection"]

    def connect(self, actor, server: Server) -> SwitchPort:
        port = services.switch_port_named(
            actor=actor, switch=self.cleaned_data["switch"], name=self.cleaned_data["name"]
        )
        return services.connect_switch_port(
            actor=actor,
            port=port,
            server=server,
            is_ipmi_connection=self.cleaned_data["is_ipmi_connection"],
        )

    @staticmethod
    def disconnect(actor, port: SwitchPort) -> None:
        services.disconnect_switch_port(actor=actor, port=port)


class ServerPduOutletForm(ServerConnectionForm):
    device_field, key_field = "pdu", "number"

    class Meta:
        model = PduOutlet
        fields = ["pdu", "number"]

    def connect(self, actor, server: Server) -> PduOutlet:
        outlet = services.pdu_outlet_numbered(
            actor=actor, pdu=self.cleaned_data["pdu"], number=self.cleaned_data["number"]
        )
        return services.connect_pdu_outlet(actor=actor, outlet=outlet, server=server)

    @staticmethod
    def disconnect(actor, outlet: PduOutlet) -> None:
        services.disconnect_pdu_outlet(actor=actor, outlet=outlet)


class ConnectionFormSet(BaseInlineFormSet):
    """Saved through the services, which audit: a row connects, Delete disconnects (the port
    or outlet stays in inventory). `actor` is set by the admin before saving."""

    actor = None

    def save_new(self, form, commit=True):
        return form.connect(self.actor, self.instance)

    def save_existing(self, form, obj, commit=True):
        return form.connect(self.actor, self.instance)

    def delete_existing(self, obj, commit=True):
        self.form.disconnect(self.actor, obj)


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


class LabelledRowsFormSet(BaseInlineFormSet):
    """A tabular inline's cells have only the column's heading, which screen readers do not
    tie to the field: each field is named after its column and its row's object."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        row = str(form.instance) if form.instance.pk else "new"
        for field in form.fields.values():
            field.widget.attrs.setdefault("aria-label", f"{field.label} ({row})")


class IpAddressInline(admin.TabularInline):
    model = IpAddress
    formset = LabelledRowsFormSet
    extra = 0
    fields = ["address", "pool", "is_main", "status"]
    readonly_fields = ["address", "pool"]
    can_delete = True

    def has_add_permission(self, request, obj=None):
        return False  # allocation goes through IPAM (API), which picks a free address under a lock


class ServerSwitchPortInline(admin.TabularInline):
    model = SwitchPort
    form = ServerSwitchPortForm
    formset = ConnectionFormSet
    extra = 0
    autocomplete_fields = ["switch"]
    fields = ["switch", "name", "is_ipmi_connection", "if_index", "admin_status", "oper_status"]
    readonly_fields = ["if_index", "admin_status", "oper_status"]
    verbose_name = "switch port"
    verbose_name_plural = "switch ports (a new row connects the port named; Delete disconnects)"


class ServerPduOutletInline(admin.TabularInline):
    model = PduOutlet
    form = ServerPduOutletForm
    formset = ConnectionFormSet
    extra = 0
    autocomplete_fields = ["pdu"]
    fields = ["pdu", "number", "name", "power_state"]
    readonly_fields = ["name", "power_state"]
    verbose_name = "PDU outlet"
    verbose_name_plural = "PDU outlets (a new row connects the outlet named; Delete disconnects)"


class RackFilter(ChosenOnlyFilter):
    """One rack's servers (`?rack=<id>`, linked from the rack list): a provider has thousands."""

    title = "rack"
    parameter_name = "rack"

    def chosen(self, pk):
        return Rack.objects.filter(pk=pk).select_related("location")  # its name reads it


class OwnerFilter(ChosenOnlyFilter):
    """Servers nobody owns, or one customer's (`?owner=<id>`, linked from the user list)."""

    title = "owner"
    parameter_name = "owner"
    NONE = "none"

    def chosen(self, pk):
        return User.objects.filter(pk=pk)

    def lookups(self, request, model_admin):
        return [(self.NONE, "No owner"), *super().lookups(request, model_admin)]

    def queryset(self, request, queryset):
        if self.value() == self.NONE:
            return queryset.filter(owner__isnull=True)
        return super().queryset(request, queryset)


@admin.register(Server)
class ServerAdmin(AuditedAdmin):
    # Few, narrow columns, so that owner, power and the main address fit at 1280 px.
    list_display = [
        "name",
        "profile",
        "placement",
        "owner",
        "state_shown",
        "power_state",
        "reachable",
        "main_ip",
    ]
    list_filter = [
        "state",
        "suspended",
        "rack__location",
        RackFilter,
        "profile",
        "bmc__power_state",
        "bmc__reachable",
        OwnerFilter,
    ]
    search_fields = ["name"]  # what get_search_results matches, by index
    search_help_text = "A name's beginning, or an exact IP address or MAC."
    # The fleet's size shown once, not counted again beside each filtered count.
    show_full_result_count = False
    list_select_related = ["profile", "rack__location", "owner", "bmc"]
    # Owners change only through the assign and release actions: the services check the
    # customer and refuse a server with an operation in progress. Suspension likewise only
    # through the suspend and resume actions, which drive the switch ports.
    readonly_fields = [
        "owner",
        "suspended",
        "suspend_reason",
        "suspended_at",
        "hardware_info",
        "created_at",
        "updated_at",
    ]
    inlines = [BmcInline, IpAddressInline, ServerSwitchPortInline, ServerPduOutletInline]
    actions = SERVER_ACTIONS
    page_actions = INVENTORY_PAGE_ACTIONS
    change_list_template = "admin/inventory/server/change_list.html"
    fieldsets = [
        (None, {"fields": ["name", "profile", "state", "owner", "current_os"]}),
        ("Suspension", {"fields": ["suspended", "suspend_reason", "suspended_at"]}),
        ("Placement", {"fields": ["rack", "unit", "mac", "serial"]}),
        ("Details", {"fields": ["hardware_info", "notes", "created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_main_ipv4()

    def get_search_results(self, request, queryset, search_term):
        """As the API searches (a name prefix, an exact address or MAC), and by exact serial,
        BMC address or owner e-mail: a substring of every column would scan the fleet and
        join its addresses."""
        term = search_term.strip()
        return (queryset.staff_search(term), False) if term else (queryset, False)

    def get_actions(self, request):
        """Bulk deletes go through `delete_servers`, which reports each refusal."""
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request, obj):
        services.delete_server(actor=request.user, server=obj)

    def save_formset(self, request, form, formset, change):
        if isinstance(formset, ConnectionFormSet):
            formset.actor = request.user
            formset.save()  # the services audit each connect and disconnect
        else:
            super().save_formset(request, form, formset, change)

    def get_deleted_objects(self, objs, request):
        """What goes with a server is listed, but decided by services.delete_server (which
        refuses an owned or busy server): its operations, their logs and boot tickets are
        read-only pages, not a reason to refuse the delete."""
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_view(self, request, object_id, extra_context=None):
        """A refused delete (owned, or an operation in progress) is a message, not a 500."""
        try:
            return super().delete_view(request, object_id, extra_context)
        except PanelError as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
            return redirect("admin:inventory_server_change", object_id)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="inventory_server_import"),
            path(
                "<path:object_id>/do/<slug:name>/",
                wrap(self.page_action_view),
                name="inventory_server_page_action",
            ),
            *super().get_urls(),
        ]

    def page_action_view(self, request, object_id, name):
        return page_action_view(self, request, object_id, name)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        server = self.get_object(request, unquote(object_id))
        if server is not None:
            extra_context = {**(extra_context or {}), **self.console(request, server)}
        return super().change_view(request, object_id, form_url, extra_context)

    def console(self, request, server: Server) -> dict:
        """What the server page shows above its edit form, and the forms that act on it."""
        shown = [action for action in self.page_actions if action.shown(server)]
        return {
            "bmc": getattr(server, "bmc", None),
            "ip_addresses": server.ip_addresses.select_related("pool__network").order_by(
                "family", "address"
            ),
            "page_actions": [
                (action, action.form(server=server) if action.inline else None) for action in shown
            ],
        }

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
            "connection_help": CONNECTION_HELP,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/inventory/server/import.html", context)

    @admin.display(description="found by diagnostics")
    def hardware_info(self, server):
        rows = server.hardware_rows()
        differs = server.hardware_mismatches()
        rows += [("Differs from its configuration", found) for found in differs]
        return format_html_join(mark_safe("<br>"), "{}: {}", rows) if rows else "—"

    @admin.display(ordering="rack__location__name", description="placement")
    def placement(self, server):
        return f"{server.rack}, U{server.unit}" if server.rack_id else "—"

    @admin.display(ordering="state", description="state")
    def state_shown(self, server):
        state = server.get_state_display()
        return f"{state}, suspended" if server.suspended else state

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
        url = reverse("admin:inventory_server_changelist")
        return format_html('<a href="{}?rack={}">{}</a>', url, rack.pk, rack.server_count)


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


def _device_columns(*own: str, points: str) -> list[str]:
    """A switch or PDU list's columns: the device, its own fields, its SNMP health, its ports."""
    return [
        "name",
        "endpoint",
        *own,
        "snmp_version",
        "reachable",
        "last_seen",
        "last_error",
        points,
    ]


class SnmpDeviceAdmin(AuditedAdmin):
    """Switches and PDUs: saved and deleted through the services. Discovery of ports and
    outlets (network.discovery) is an action added by the layer above."""

    form = SnmpDeviceForm
    list_filter = ["reachable", "snmp_version", "location"]
    search_fields = ["name", "address"]
    list_select_related = ["location"]
    readonly_fields = ["reachable", "last_seen", "last_error", "consecutive_failures"]
    points = ""  # the reverse relation of its ports or outlets
    device_fields: list[str] = []  # its kind's own fields

    def get_fieldsets(self, request, obj=None):
        secrets = []
        for name in SnmpDevice.SECRETS:
            stored = obj is not None and obj.has_secret(name)
            secrets += [name, f"clear_{name}"] if stored else [name]
        return [
            (None, {"fields": ["name", "location", "address", "port", *self.device_fields]}),
            ("SNMP", {"fields": ["snmp_version", "username", "auth_protocol", "priv_protocol"]}),
            ("Secrets (write-only)", {"fields": secrets}),
            ("State", {"fields": [*self.readonly_fields, "notes"]}),
        ]

    def get_queryset(self, request):
        connected = Count(self.points, filter=Q(**{f"{self.points}__server__isnull": False}))
        return (
            super()
            .get_queryset(request)
            .annotate(point_count=Count(self.points), connected_count=connected)
        )

    def save_model(self, request, obj, form, change):
        services.save_snmp_device(actor=request.user, device=obj, secrets=form.secrets())

    def delete_model(self, request, obj):
        services.delete_snmp_device(actor=request.user, device=obj)

    @admin.display(ordering="address")
    def endpoint(self, device):
        return f"{device.address}:{device.port}"

    def point_link(self, device, model, noun: str):
        """How many ports or outlets it has, linked to their list."""
        url = reverse(f"admin:inventory_{model._meta.model_name}_changelist")
        return format_html(
            '<a href="{}?{}__id__exact={}">{} {}, {} connected</a>',
            url,
            device._meta.model_name,
            device.pk,
            device.point_count,
            noun,
            device.connected_count,
        )


@admin.register(Switch)
class SwitchAdmin(SnmpDeviceAdmin):
    points = "ports"
    device_fields = ["drift_policy"]
    list_display = _device_columns(points="ports")
    list_filter = [*SnmpDeviceAdmin.list_filter, "drift_policy"]
    readonly_fields = [*SnmpDeviceAdmin.readonly_fields, "ports"]

    @admin.display(ordering="point_count")
    def ports(self, switch):
        return self.point_link(switch, SwitchPort, "ports") if switch.pk else "—"


@admin.register(Pdu)
class PduAdmin(SnmpDeviceAdmin):
    points = "outlets"
    device_fields = [
        "profile",
        "control_oid",
        "state_oid",
        "on_value",
        "off_value",
        "cycle_seconds",
    ]
    list_display = _device_columns("profile", points="outlets")
    list_filter = [*SnmpDeviceAdmin.list_filter, "profile"]
    readonly_fields = [*SnmpDeviceAdmin.readonly_fields, "outlets"]

    @admin.display(ordering="point_count")
    def outlets(self, pdu):
        return self.point_link(pdu, PduOutlet, "outlets") if pdu.pk else "—"


class ConnectionPointAdmin(AuditedAdmin):
    """Switch ports and PDU outlets: saved through the services, so connecting a server is
    audited as such and one connected elsewhere must be disconnected first."""

    form = ConnectionPointForm

    def save_model(self, request, obj, form, change):
        if isinstance(obj, SwitchPort):
            services.save_switch_port(actor=request.user, port=obj)
        else:
            services.save_pdu_outlet(actor=request.user, outlet=obj)

    def delete_model(self, request, obj):
        services.delete_connection_point(actor=request.user, point=obj)


@admin.register(SwitchPort)
class SwitchPortAdmin(ConnectionPointAdmin):
    list_display = [
        "switch",
        "name",
        "if_index",
        "description",
        "server",
        "is_ipmi_connection",
        "admin_status",
        "oper_status",
    ]
    list_filter = ["admin_status", "oper_status", "is_ipmi_connection", "switch"]
    search_fields = ["switch__name", "name", "description", "server__name"]
    list_select_related = ["switch", "server"]
    autocomplete_fields = ["switch", "server"]
    fields = [
        "switch",
        "name",
        "if_index",
        "description",
        "speed_mbps",
        "server",
        "is_ipmi_connection",
        "admin_status",
        "oper_status",
        "status_read_at",
        "discovered_at",
    ]
    readonly_fields = ["admin_status", "oper_status", "status_read_at", "discovered_at"]


@admin.register(PduOutlet)
class PduOutletAdmin(ConnectionPointAdmin):
    list_display = ["pdu", "number", "name", "server", "power_state", "state_read_at"]
    list_filter = ["power_state", "pdu"]
    search_fields = ["pdu__name", "name", "server__name"]
    list_select_related = ["pdu", "server"]
    autocomplete_fields = ["pdu", "server"]
    fields = ["pdu", "number", "name", "server", "power_state", "state_read_at", "discovered_at"]
    readonly_fields = ["power_state", "state_read_at", "discovered_at"]


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
