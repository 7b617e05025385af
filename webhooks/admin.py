"""Staff's pages: subscriptions (the secret write-only) and the read-only delivery log, with
test and redeliver actions. Every change goes through webhooks.services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from panel.admin import (
    CappedCountPaginator,
    IndexedValuesFilter,
    OneByOneDeleteAdmin,
    ReadOnlyAdmin,
)
from panel.exceptions import PanelError, error_text
from webhooks import services
from webhooks.models import EVENT_TYPES, Delivery, Subscription


class SubscriptionForm(forms.ModelForm):
    """The secret is write-only: typed to set it, never shown back; left empty, the stored one
    is kept (on a new subscription one is generated and shown once)."""

    url = forms.URLField(max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[(name, name) for name in EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event but install.progress, which is sent only when ticked.",
    )
    secret = forms.CharField(
        required=False,
        strip=False,
        min_length=services.SECRET_MIN_LENGTH,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Signs every delivery. Never shown again; leave empty to keep it (or, on a "
        "new webhook, to have one generated).",
    )

    class Meta:
        model = Subscription
        fields = ["name", "url", "event_types", "active", "secret"]


@admin.register(Subscription)
class SubscriptionAdmin(OneByOneDeleteAdmin):
    form = SubscriptionForm
    list_display = [
        "name",
        "url",
        "active",
        "types",
        "failing_since",
        "paused_until",
        "disabled_reason",
    ]
    list_filter = ["active"]
    search_fields = ["name", "url"]
    actions = ["send_ping"]

    @admin.display(description="events")
    def types(self, subscription):
        return ", ".join(subscription.event_types) or "all (but install.progress)"

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in services.FIELDS}
        secret = form.cleaned_data["secret"] or None
        if change:
            services.update_subscription(
                actor=request.user, subscription=obj, secret=secret, **data
            )
            return
        created, secret_shown = services.create_subscription(
            actor=request.user, secret=secret, **data
        )
        obj.pk = created.pk
        if not form.cleaned_data["secret"]:
            self.message_user(
                request,
                f"The webhook's signing secret, shown only now: {secret_shown}",
                messages.WARNING,
            )

    def delete_model(self, request, obj):
        services.delete_subscription(actor=request.user, subscription=obj)

    @admin.action(description="Send a test ping")
    def send_ping(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            "Ping queued",
            lambda subscription: services.ping(actor=request.user, subscription=subscription),
        )


def _each(modeladmin, request, queryset, done: str, change) -> None:
    """Apply `change(obj)` to each selected object; one message for what happened."""
    done_for, refused = [], []
    for obj in queryset:
        try:
            change(obj)
        except (PanelError, ValidationError) as exc:
            refused.append(f"{obj}: {error_text(exc)}")
        else:
            done_for.append(str(obj))
    if done_for:
        modeladmin.message_user(request, f"{done}: {', '.join(done_for)}.", messages.SUCCESS)
    if refused:
        modeladmin.message_user(request, f"Refused: {'; '.join(refused)}", messages.ERROR)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """The delivery log: read-only, with redelivery."""

    list_display = [
        "event_type",
        "subscription",
        "status",
        "response_code",
        "attempts",
        "last_attempt_at",
        "next_attempt_at",
        "last_error",
    ]
    list_filter = ["status", ("event__type", IndexedValuesFilter), "subscription"]
    list_select_related = ["event", "subscription"]
    search_fields = ["event__id", "last_error"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    readonly_fields = ["subscription", "event", "event_body", *Delivery.LOG_FIELDS]
    fields = readonly_fields
    actions = ["redeliver"]

    @admin.display(ordering="event__type", description="event")
    def event_type(self, delivery):
        return delivery.event.type

    @admin.display(description="body")
    def event_body(self, delivery):
        return delivery.event.envelope()

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            "Queued again",
            lambda delivery: services.redeliver(actor=request.user, delivery=delivery),
        )
