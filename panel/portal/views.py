"""The customer portal: thin views over the same services the API uses."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from panel import services as people
from panel import twofactor
from panel.exceptions import PanelError
from panel.models import ApiToken, SshKey
from panel.portal import selectors
from panel.portal.forms import (
    ApiTokenForm,
    CaptureForm,
    CodeForm,
    FirstCodeForm,
    NotificationsForm,
    ReinstallForm,
    RescueForm,
    RestoreForm,
    ServerFilterForm,
    SshKeyForm,
    submit,
)
from panel.signin import ENROL_ONLY_KEY
from panel.sources import client_address
from provisioning import consoles, imaging, services, workflows
from provisioning.models import DiskImage, Operation, OsTemplate
from provisioning.selectors import login_details, rescue_state
from provisioning.workflows.power import sensible_actions

# The portal's power buttons: action -> (label, needs a confirmation, what it does).
POWER_BUTTONS = {
    "on": ("Power on", False, "Turns the server on."),
    "soft_off": (
        "Graceful shutdown",
        True,
        "Asks the operating system to shut down (ACPI power button); it may refuse.",
    ),
    "off": (
        "Power off",
        True,
        "Cuts the power at once, like pulling the plug: unsaved data is lost.",
    ),
    "reset": ("Reset", True, "Restarts the server at once, without shutting the system down."),
    "cycle": (
        "Power cycle",
        True,
        "Turns the power off and on again at once, without shutting the system down.",
    ),
}


@login_required
def server_list(request):
    filters = ServerFilterForm(request.GET)
    valid = filters.is_valid()
    search = filters.cleaned_data["q"].strip() if valid else ""
    power = filters.cleaned_data["power"] if valid else ""
    if not valid:
        messages.error(request, "That search cannot be used; showing all your servers.")
    servers = selectors.server_list(request.user, search=search, power=power)
    page = Paginator(servers, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/server_list.html",
        {"page": page, "search": search, "power": power, "power_filters": selectors.POWER_FILTERS},
    )


def _power_context(server) -> dict:
    """The power panel: the state, the running operation, the buttons that make sense now."""
    bmc = getattr(server, "bmc", None)
    offered = set(sensible_actions(bmc.power_state if bmc else "unknown"))
    return {
        "server": server,
        "rescue": rescue_state(server),
        "power_buttons": [
            (action, label, confirm)
            for action, (label, confirm, _) in POWER_BUTTONS.items()
            if action in offered
        ],
        "active_operation": server.operations.active().order_by("-pk").first(),
    }


@login_required
def server_detail(request, pk: int):
    server = selectors.server_detail(request.user, pk)
    return render(
        request,
        "portal/server_detail.html",
        {**_power_context(server), "operations": selectors.recent_operations(server)},
    )


@login_required
def power_live(request, pk: int):
    """The server page's power panel, which the page's script refreshes."""
    server = selectors.server_detail(request.user, pk)
    return render(request, "portal/power_panel.html", _power_context(server))


@login_required
def power(request, pk: int, action: str):
    """GET: the confirmation for a destructive action. POST: request it."""
    server = selectors.server_detail(request.user, pk)
    if action not in POWER_BUTTONS:
        raise Http404
    label, _, explanation = POWER_BUTTONS[action]
    if request.method != "POST":
        context = {"server": server, "action": action, "label": label, "explanation": explanation}
        return render(request, "portal/power_confirm.html", context)
    return _start_on(
        request,
        server,
        lambda **who: services.request_power(**who, action=action),
        f"{label} requested for {server.name}.",
    )


def _start_on(request, server, start, started: str):
    """Start an operation on `server` with `start(actor=, server=)`: the operation's page,
    or the server's page with the refusal."""
    try:
        op = start(actor=request.user, server=server)
    except PanelError as exc:
        messages.error(request, exc.message)
        return redirect("server", pk=server.pk)
    messages.success(request, started)
    return redirect("operation", pk=op.pk)


@require_POST
@login_required
def open_console(request, pk: int):
    """The server page's Console button: a fresh single-use link, opened at once."""
    server = selectors.server_detail(request.user, pk)
    try:
        issued = consoles.issue_console(actor=request.user, server=server)
    except PanelError as exc:
        messages.error(request, exc.message)
        return redirect("server", pk=server.pk)
    return redirect(f"{reverse('server-console', args=[server.pk])}?token={issued.token}")


def console(request, pk: int):
    """The console page. It needs no sign-in: its link's token is the key (a billing system
    hands such links to its customers), checked again when the page's socket presents it."""
    session = consoles.issued_session(token=request.GET.get("token", ""), server_id=pk)
    response = render(
        request,
        "portal/console.html",
        {"session": session, "server": session.server if session else None},
        status=200 if session else 404,
    )
    # xterm.js writes <style> elements as it draws; scripts stay the panel's own.
    response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY.replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'"
    )
    response["Referrer-Policy"] = "no-referrer"  # the token stays in this page
    return response


@login_required
def reinstall(request, pk: int):
    server = selectors.server_detail(request.user, pk)
    form = ReinstallForm(request.POST or None, user=request.user, server=server)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        op = submit(
            form,
            services.start_install,
            actor=request.user,
            server=server,
            template=get_object_or_404(OsTemplate, pk=data["os_template"]),
            raid=data["raid"],
            password=data["password"],
            ssh_keys=list(data["ssh_keys"]),
            reboot=data["reboot"],
        )
        if op is not None:
            return redirect("operation", pk=op.pk)
    templates = OsTemplate.objects.visible_to(request.user).filter(is_utility=False)
    return render(
        request,
        "portal/reinstall.html",
        {"server": server, "form": form, "templates": templates.order_by("name")},
    )


def _form_page(request, form, title: str, submit_label: str, text: str):
    context = {"form": form, "title": title, "submit": submit_label, "text": text}
    return render(request, "portal/form_page.html", context)


@login_required
def capture_image(request, pk: int):
    server = selectors.server_detail(request.user, pk)
    form = CaptureForm(request.POST or None, server=server)
    if request.method == "POST" and form.is_valid():
        started = submit(
            form, services.start_capture, actor=request.user, server=server, **form.cleaned_data
        )
        if started is not None:
            return redirect("operation", pk=started[0].pk)
    title = f"Capture an image of {server.name}"
    if not form.fields["disks"].choices:
        return render(request, "portal/capture_no_disks.html", {"server": server, "title": title})
    text = (
        f"{server.name} restarts into the panel's utility system, which copies the disks to "
        "the panel, compressed; then it boots its disk again. Its disks are not changed."
    )
    return _form_page(request, form, title, "Capture", text)


@login_required
def restore_image(request, pk: int):
    server = selectors.server_detail(request.user, pk)
    form = RestoreForm(request.POST or None, user=request.user, server=server)
    if request.method == "POST" and form.is_valid():
        image = get_object_or_404(
            DiskImage.objects.visible_to(request.user), pk=form.cleaned_data["image"]
        )
        op = submit(form, services.start_restore, actor=request.user, server=server, image=image)
        if op is not None:
            return redirect("operation", pk=op.pk)
    text = (
        f"Everything on the disks of {server.name} is replaced by the image's; the panel "
        "checks every byte it wrote, then the server boots its disk."
    )
    return _form_page(request, form, f"Restore an image onto {server.name}", "Restore", text)


@login_required
@require_POST
def run_diagnostics(request, pk: int):
    """Restart the server into the utility image, which reports its hardware (its disks,
    which a capture needs) without changing anything."""
    server = selectors.server_detail(request.user, pk)
    return _start_on(
        request, server, services.start_diagnostics, f"Diagnostics started on {server.name}."
    )


@login_required
def disk_images(request):
    images = DiskImage.objects.visible_to(request.user).select_related("owner", "source_server")
    return render(
        request,
        "portal/disk_images.html",
        {
            "images": images,
            "quota_count": settings.PANEL_IMAGE_QUOTA_COUNT,
            "quota_gb": settings.PANEL_IMAGE_QUOTA_BYTES / 1e9,
            "stored_bytes": imaging.stored_by(request.user),
        },
    )


@login_required
def rescue(request, pk: int):
    """GET: the rescue form. POST: boot the rescue system; the one-time password, if asked
    for, is on the page this answers, and nowhere else ever again."""
    server = selectors.server_detail(request.user, pk)
    # An empty POST (nothing ticked) is still a submission.
    form = RescueForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        started = submit(
            form,
            services.start_rescue,
            actor=request.user,
            server=server,
            ssh_keys=form.key_lines(),
            password=form.cleaned_data["password"],
        )
        if started is not None:
            context = {"server": server, "op": started.operation, "password": started.password}
            response = render(request, "portal/rescue_started.html", context)
            response["Cache-Control"] = "no-store"
            return response
    context = {
        "server": server,
        "form": form,
        "max_minutes": settings.PANEL_RESCUE_MAX_SECONDS // 60,
    }
    return render(request, "portal/rescue.html", context)


@login_required
@require_POST
def delete_disk_image(request, pk: int):
    image = get_object_or_404(DiskImage.objects.visible_to(request.user), pk=pk)
    try:
        services.delete_image(actor=request.user, image=image)
    except PanelError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Image {image.name} deleted.")
    return redirect("disk-images")


@login_required
@require_POST
def rescue_exit(request, pk: int):
    server = selectors.server_detail(request.user, pk)
    return _start_on(
        request,
        server,
        services.request_rescue_exit,
        f"{server.name} is leaving the rescue system.",
    )


def _operation_context(request, pk: int) -> dict:
    op = get_object_or_404(
        Operation.objects.visible_to(request.user).select_related("server", "requested_by"),
        pk=pk,
    )
    events = list(op.events.order_by("created_at", "pk"))
    steps = []
    labelled = {name: step.label for name, step in workflows.for_kind(op.kind).steps.items()}
    if all(labelled.values()):  # a workflow with a progress list labels every step
        names = list(labelled)
        reached = names.index(op.step) if op.step else -1
        for index, name in enumerate(names):
            done = index < reached or op.state == Operation.State.SUCCEEDED
            steps.append({"label": labelled[name], "done": done, "current": index == reached})
    return {
        "op": op,
        "events": events,
        "steps": steps,
        "ended": op.state not in Operation.ACTIVE_STATES,
        "login": login_details(op),
        "cancellable": services.may_cancel(request.user, op) and services.is_cancellable(op),
    }


@login_required
def operation(request, pk: int):
    return render(request, "portal/operation.html", _operation_context(request, pk))


@login_required
def operation_live(request, pk: int):
    """The part of the operation page that the page's script refreshes."""
    return render(request, "portal/operation_live.html", _operation_context(request, pk))


@login_required
@require_POST
def cancel_operation(request, pk: int):
    op = get_object_or_404(Operation.objects.visible_to(request.user), pk=pk)
    try:
        services.cancel_operation(actor=request.user, operation=op)
    except PanelError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Operation #{op.pk} is being cancelled.")
    return redirect("operation", pk=op.pk)


@login_required
def ssh_keys(request):
    form = SshKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        key = submit(form, people.add_ssh_key, actor=request.user, **form.cleaned_data)
        if key is not None:
            messages.success(request, f'Key "{key.name}" saved.')
            return redirect("ssh-keys")
    keys = SshKey.objects.filter(user=request.user).order_by("name")
    return render(request, "portal/ssh_keys.html", {"form": form, "keys": keys})


@login_required
@require_POST
def delete_ssh_key(request, pk: int):
    key = get_object_or_404(SshKey, pk=pk, user=request.user)
    people.delete_ssh_key(actor=request.user, key=key)
    messages.success(request, f'Key "{key.name}" deleted.')
    return redirect("ssh-keys")


@login_required
def api_tokens(request):
    form = ApiTokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        created = submit(
            form,
            people.create_api_token,
            actor=request.user,
            user=request.user,
            **form.cleaned_data,
        )
        if created is not None:
            new_key = created[1]
            form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at")
    return render(
        request, "portal/api_tokens.html", {"form": form, "tokens": tokens, "new_key": new_key}
    )


@login_required
def revoke_api_token(request, pk: int):
    """GET: the confirmation. POST: revoke."""
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    if request.method != "POST":
        return render(request, "portal/token_revoke.html", {"token": token})
    people.revoke_api_token(actor=request.user, token=token)
    messages.success(request, f"Token {token.prefix} revoked.")
    return redirect("api-tokens")


@login_required
def account_settings(request):
    initial = {"notify_by_email": request.user.notify_by_email}
    # An unticked box posts nothing: an empty POST is still a submission.
    form = NotificationsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        people.update_user(actor=request.user, user=request.user, **form.cleaned_data)
        messages.success(request, "Settings saved.")
        return redirect("settings")
    return render(request, "portal/settings.html", {"form": form})


def _submit_code(request, form: CodeForm, service):
    """Call a two-factor service that a current code (counted in the login throttle) allows."""
    return submit(
        form,
        service,
        actor=request.user,
        code=form.cleaned_data["code"],
        address=client_address(request),
    )


@login_required
def two_factor(request):
    """Whether two-factor login is on; turning it off asks for a current code."""
    form = CodeForm(request.POST or None)
    posted = request.method == "POST" and form.is_valid()
    if posted and _submit_code(request, form, twofactor.disable):
        update_session_auth_hash(request, request.user)  # this session goes on, the others end
        messages.success(request, "Two-factor login is off.")
        return redirect("two-factor")
    context = {
        "form": form,
        "enabled": twofactor.has_second_factor(request.user),
        "required": twofactor.is_required(request.user),
        "recovery_codes_left": twofactor.unused_recovery_codes(request.user),
    }
    return render(request, "portal/two_factor.html", context)


@never_cache  # the secret, then the recovery codes, stay out of caches
@login_required
def two_factor_enrol(request):
    """The secret (a QR code, and as text), then a first code from the app to turn it on; the
    recovery codes are shown on the answer to that, once."""
    if twofactor.has_second_factor(request.user):
        return redirect("two-factor")
    session_key = request.session.session_key
    device = twofactor.start_enrolment(actor=request.user, session_key=session_key)
    form = FirstCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = submit(
            form,
            twofactor.confirm_enrolment,
            actor=request.user,
            session_key=session_key,
            code=form.cleaned_data["code"],
        )
        if codes is not None:
            update_session_auth_hash(request, request.user)  # this session goes on, the others end
            required = request.session.pop(ENROL_ONLY_KEY, None)
            context = {
                "codes": codes,
                "title": "Two-factor login is on",
                "next": required["next"] if required else None,
            }
            return render(request, "portal/two_factor_codes.html", context)
    context = {
        "form": form,
        "secret": twofactor.secret_text(device),
        "qr_code": twofactor.qr_code_svg(device),
    }
    return render(request, "portal/two_factor_enrol.html", context)


@never_cache
@login_required
def two_factor_recovery_codes(request):
    """New recovery codes for the old ones, on a current code."""
    if not twofactor.has_second_factor(request.user):
        return redirect("two-factor")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = _submit_code(request, form, twofactor.replace_recovery_codes)
        if codes is not None:
            context = {"codes": codes, "title": "New recovery codes"}
            return render(request, "portal/two_factor_codes.html", context)
    context = {
        "form": form,
        "title": "New recovery codes",
        "submit": "Make new recovery codes",
        "text": "The codes you have now stop working. Confirm with a code from your app.",
    }
    return render(request, "portal/form_page.html", context)
