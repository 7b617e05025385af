"""Boot endpoints for machines (no login; the boot network and a ticket in the URL guard
them). Thin: the logic is in provisioning.boot."""

import json
from functools import wraps

from django.http import FileResponse, HttpResponse, HttpResponseNotFound, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from panel.api.parsers import InvalidJson, read_json
from panel.sources import client_address
from provisioning import agent_image, boot, imaging
from provisioning.forms import InstallerEventForm

TEXT = "text/plain; charset=utf-8"


def _not_found():
    """One answer for a refusal and an unknown ticket: a refused caller learns nothing."""
    return HttpResponseNotFound("Unknown, expired or already used ticket.\n", TEXT)


def from_boot_network(view):
    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not boot.admits(client_address(request), request.resolver_match.url_name):
            return _not_found()
        return view(request, *args, **kwargs)

    return guarded


def with_bound_ticket(view):
    """Pass the view the URL's ticket, if the request comes from the address it is bound to."""

    @wraps(view)
    @from_boot_network
    def guarded(request, secret, **kwargs):
        endpoint = request.resolver_match.url_name
        ticket = boot.bound_ticket(secret, client_address(request), endpoint)
        if ticket is None:
            return _not_found()
        return view(request, ticket, secret, **kwargs)

    return guarded


def _base_url(request) -> str:
    """Where the machine reached the panel: its config and reports go to the same place."""
    return request.build_absolute_uri("/").rstrip("/")


@require_GET
@from_boot_network
def ipxe_script(request):
    mac, source = request.GET.get("mac", ""), client_address(request)
    return HttpResponse(boot.boot_script(mac, _base_url(request), source), TEXT)


@require_GET
@from_boot_network
def agent_image_file(request, name):
    """The agent image's kernel or initramfs (nothing secret: Debian's files and the agent)."""
    path = agent_image.served_file(name)
    if path is None:
        return HttpResponseNotFound(
            "No agent image: run `python manage.py build_agent_image`.\n", TEXT
        )
    return FileResponse(path.open("rb"), content_type="application/octet-stream")


@require_GET
@with_bound_ticket
def installer_config(request, ticket, secret):
    config = boot.installer_config(ticket, secret, _base_url(request))
    if config is None:
        return _not_found()
    return HttpResponse(config, TEXT)


@require_GET
@with_bound_ticket
def meta_data(request, ticket, secret):
    text = boot.meta_data(ticket)
    if text is None:
        return _not_found()
    return HttpResponse(text, TEXT)


@csrf_exempt
@require_POST
@with_bound_ticket
def installer_event(request, ticket, secret):
    if request.content_type == "application/json":
        try:
            data = read_json(request)
        except InvalidJson as exc:
            return JsonResponse({"detail": str(exc)}, status=400)
        if not isinstance(data, dict):
            return JsonResponse({"detail": "Send a JSON object."}, status=400)
        if isinstance(data.get("facts"), dict):
            data["facts"] = json.dumps(data["facts"])
    else:
        data = request.POST
    form = InstallerEventForm(data)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    answer = boot.record_event(ticket, form.cleaned_data)
    return JsonResponse(answer.body, status=answer.status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
@with_bound_ticket
def disk_piece(request, ticket, secret, disk, index):
    """A piece of a disk image: POSTed (gzip in base64, X-Piece-SHA256 of its raw bytes) by
    a capture's agent, fetched (gzip) by a restore's."""
    if not (index.isascii() and index.isdigit() and len(index) < 10):
        return _not_found()
    index = int(index)
    if request.method == "GET":
        piece = imaging.restore_piece(ticket, disk, index)
        if piece is None:
            return _not_found()
        return FileResponse(piece, content_type="application/gzip")
    limit = imaging.piece_body_limit()
    length = request.headers.get("Content-Length") or "0"
    if not (length.isascii() and length.isdigit()):
        return JsonResponse({"detail": "Content-Length is not a number of bytes."}, status=400)
    if int(length) > limit:
        return JsonResponse({"detail": f"A piece is at most {limit} bytes."}, status=413)
    body = request.read(limit + 1)
    if len(body) > limit:
        return JsonResponse({"detail": f"A piece is at most {limit} bytes."}, status=413)
    answer = imaging.receive_piece(
        ticket, disk, index, body, request.headers.get("X-Piece-SHA256", "")
    )
    return JsonResponse(answer.body, status=answer.status)
