"""Boot endpoints for machines (no login; a ticket in the URL guards them). Thin: the
logic is in provisioning.boot."""

import json

from django.http import HttpResponse, HttpResponseNotFound, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from provisioning import boot
from provisioning.forms import InstallerEventForm

TEXT = "text/plain; charset=utf-8"


def _base_url(request) -> str:
    """Where the machine reached the panel: its config and reports go to the same place."""
    return request.build_absolute_uri("/").rstrip("/")


@require_GET
def ipxe_script(request):
    return HttpResponse(boot.boot_script(request.GET.get("mac", ""), _base_url(request)), TEXT)


@require_GET
def installer_config(request, secret):
    config = boot.installer_config(secret, _base_url(request))
    if config is None:
        return HttpResponseNotFound("Unknown, expired or already used ticket.\n", TEXT)
    return HttpResponse(config, TEXT)


@require_GET
def meta_data(request, secret):
    text = boot.meta_data(secret)
    if text is None:
        return HttpResponseNotFound("Unknown or expired ticket.\n", TEXT)
    return HttpResponse(text, TEXT)


@csrf_exempt
@require_POST
def installer_event(request, secret):
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body)
        except ValueError:
            return JsonResponse({"detail": "The body is not JSON."}, status=400)
        if not isinstance(data, dict):
            return JsonResponse({"detail": "Send a JSON object."}, status=400)
        if isinstance(data.get("facts"), dict):
            data["facts"] = json.dumps(data["facts"])
    else:
        data = request.POST
    form = InstallerEventForm(data)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    answer = boot.record_event(secret, form.cleaned_data)
    return JsonResponse(answer.body, status=answer.status)
