"""Disk imaging through the API and the boot endpoints: the agent image's side is played
here over real HTTP requests (the QEMU test, tests/e2e/test_agent_image.py, runs the real
agent); pieces land in the default storage (a temporary folder)."""

import base64
import gzip
import hashlib
import re

import pytest
from django.test import Client

from inventory.models import Server
from panel.models import AuditEvent
from provisioning.models import DiskImage, Operation
from provisioning.tasks import run_operation
from tests.factories import make_server
from tests.provisioning.test_install import boot

MIB = 2**20
DISK = [b"A" * MIB + b"B" * MIB, b"C" * MIB]  # two pieces of 2 MiB, then one of 1 MiB


@pytest.fixture(autouse=True)
def storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PANEL_IMAGE_PIECE_MIB = 2
    return settings.MEDIA_ROOT


@pytest.fixture
def diagnosed(lab_server):
    """lab_server as diagnostics left it: one 3 MiB disk vda, Debian 12 installed."""
    facts = {"disks": [{"name": "vda", "size_bytes": 3 * MIB}]}
    Server.objects.filter(pk=lab_server.pk).update(facts=facts, current_os="Debian 12")
    lab_server.refresh_from_db()
    return lab_server


def encoded(raw: bytes) -> bytes:
    return base64.encodebytes(gzip.compress(raw))


def post_piece(client, url: str, raw: bytes, sha256: str | None = None, body=None):
    return client.post(
        url,
        encoded(raw) if body is None else body,
        content_type="text/plain",
        headers={"X-Piece-SHA256": sha256 or hashlib.sha256(raw).hexdigest()},
    )


def booted(api, client, server, path: str, body: dict) -> tuple[int, str, str]:
    """Start the operation and play the agent image up to its script: (op id, disks URL
    for vda, the script)."""
    response = api.post(f"/api/v1/servers/{server.pk}/{path}/", body, format="json")
    assert response.status_code == 202, response.content
    op_id = response.json()["task"]
    run_operation(op_id)
    secret = re.search(r"/boot/config/([\w-]+)", boot(client, server)).group(1)
    script = client.get(f"/boot/config/{secret}").content.decode()
    return op_id, f"/boot/disks/{secret}/vda", script


def finish(client, op_id: int, url: str, event: str = "done") -> Operation:
    secret = url.split("/")[3]
    assert client.post(f"/boot/events/{secret}", {"event": event}).status_code == 202
    for _ in range(2):
        run_operation(op_id)
    return Operation.objects.get(pk=op_id)


def captured(api, client, server, name: str = "golden") -> DiskImage:
    op_id, url, _ = booted(api, client, server, "capture", {"name": name})
    for index, raw in enumerate(DISK):
        assert post_piece(client, f"{url}/{index}", raw).status_code == 201
    op = finish(client, op_id, url)
    assert op.state == "succeeded", op.error
    return DiskImage.objects.get(pk=op.result["image"])


def test_a_capture_keeps_the_pieces_and_seals_the_disks_checksum(
    owner_api, client, diagnosed, storage, customer
):
    op_id, url, script = booted(owner_api, client, diagnosed, "capture", {"name": "golden"})
    assert re.search(r"capture_disk vda \S+/boot/disks/[\w-]+ 2 10 95\n", script)
    assert owner_api.get("/api/v1/images/").json()["results"][0]["state"] == "capturing"
    for index, raw in enumerate(DISK):
        assert post_piece(client, f"{url}/{index}", raw).status_code == 201
    # A piece sent again (the agent retried) replaces the first copy.
    assert post_piece(client, f"{url}/1", DISK[1]).status_code == 201
    op = finish(client, op_id, url)
    assert op.state == "succeeded", op.error
    image = owner_api.get(f"/api/v1/images/{op.result['image']}/").json()
    whole = hashlib.sha256(b"".join(DISK)).hexdigest()
    assert image["disks"] == [{"name": "vda", "bytes": 3 * MIB, "sha256": whole}]
    assert op.result["sha256"] == {"vda": whole}
    assert image["state"] == "ready" and image["owner"]["id"] == customer.pk
    assert (image["source_server"], image["source_os"]) == (diagnosed.pk, "Debian 12")
    assert image["stored_bytes"] == sum(len(gzip.compress(raw)) for raw in DISK)
    assert len(list(storage.rglob("*.gz"))) == 2
    assert AuditEvent.objects.filter(action="image.capture", target_id=str(image["id"])).exists()


def test_pieces_that_are_not_what_they_claim_are_refused(owner_api, client, diagnosed):
    _, url, _ = booted(owner_api, client, diagnosed, "capture", {"name": "golden"})
    raw = DISK[0]
    assert post_piece(client, f"{url}/0", raw, body=b"not base64 at all!").status_code == 400
    assert post_piece(client, f"{url}/0", raw, body=base64.encodebytes(raw)).status_code == 400
    assert post_piece(client, f"{url}/0", raw, sha256="0" * 64).status_code == 400
    too_big = b"x" * (3 * MIB)
    assert post_piece(client, f"{url}/0", too_big).status_code == 400
    assert post_piece(client, f"{url}/5", raw).status_code == 404  # not the next piece
    for index in ("x", "-1", "\u00b2", "9" * 12):
        refused = post_piece(client, f"{url}/{index}", raw)
        assert refused.status_code == 404 and refused["Content-Type"].startswith("text/plain")
    assert post_piece(client, url.replace("/vda", "/vdb") + "/0", raw).status_code == 404
    assert post_piece(Client(REMOTE_ADDR="127.0.0.9"), f"{url}/0", raw).status_code == 404
    assert client.get(f"{url}/0").status_code == 404  # a capture's pieces are not served
    loose = b"!!!" + encoded(raw) + b"\x00garbage"
    assert post_piece(client, f"{url}/0", raw, body=loose).json()["detail"] == (
        "The piece is not base64."
    )
    assert post_piece(client, f"{url}/0", b"").json()["detail"] == "The piece is empty."
    bad_length = client.post(
        f"{url}/0",
        encoded(raw),
        content_type="text/plain",
        headers={"X-Piece-SHA256": hashlib.sha256(raw).hexdigest()},
        CONTENT_LENGTH="abc",
    )
    assert bad_length.status_code == 400
    assert DiskImage.objects.get().stored_bytes == 0


def test_only_a_disks_last_piece_may_be_short(owner_api, client, diagnosed):
    _, url, _ = booted(owner_api, client, diagnosed, "capture", {"name": "golden"})
    short = b"A" * MIB
    assert post_piece(client, f"{url}/0", short).status_code == 201  # the last, so far
    after = post_piece(client, f"{url}/1", DISK[1])
    assert after.status_code == 400
    assert after.json()["detail"] == "Only a disk's last piece may be shorter than 2 MiB."
    assert post_piece(client, f"{url}/0", DISK[0]).status_code == 201  # sent again, whole
    assert post_piece(client, f"{url}/1", DISK[1]).status_code == 201
    assert post_piece(client, f"{url}/0", short).status_code == 400  # no longer the last
    assert DiskImage.objects.get().disks[0]["bytes"] == 3 * MIB


def test_over_the_byte_quota_a_piece_is_refused_and_the_failed_capture_leaves_nothing(
    owner_api, client, diagnosed, storage, settings
):
    settings.PANEL_IMAGE_QUOTA_BYTES = len(gzip.compress(DISK[0])) + 10
    op_id, url, _ = booted(owner_api, client, diagnosed, "capture", {"name": "golden"})
    assert post_piece(client, f"{url}/0", DISK[0]).status_code == 201
    refused = post_piece(client, f"{url}/1", DISK[1])
    assert refused.status_code == 413 and "exceed" in refused.json()["detail"]
    op = finish(client, op_id, url, event="failed")
    assert op.state == "failed"
    assert not DiskImage.objects.exists() and not list(storage.rglob("*.gz"))


def test_the_image_count_quota_and_names_are_checked_before_anything_starts(
    owner_api, client, diagnosed, settings
):
    captured(owner_api, client, diagnosed)
    again = owner_api.post(
        f"/api/v1/servers/{diagnosed.pk}/capture/", {"name": "golden"}, format="json"
    )
    assert again.status_code == 400 and "already an image" in again.json()["name"][0]
    settings.PANEL_IMAGE_QUOTA_COUNT = 1
    over = owner_api.post(
        f"/api/v1/servers/{diagnosed.pk}/capture/", {"name": "second"}, format="json"
    )
    assert over.status_code == 409 and "delete one first" in over.json()["detail"]
    assert Operation.objects.filter(kind="capture").count() == 1


def test_a_capture_needs_disks_the_server_reported(owner_api, lab_server, diagnosed):
    def capture(server, **body):
        return owner_api.post(f"/api/v1/servers/{server.pk}/capture/", body, format="json")

    undiagnosed = make_server(owner=diagnosed.owner)
    assert "Run diagnostics first" in capture(undiagnosed, name="a").json()["disks"][0]
    assert "has no disk sdz" in capture(diagnosed, name="a", disks=["sdz"]).json()["disks"][0]
    assert "disks" in capture(diagnosed, name="a", disks=["../etc"]).json()
    assert "disks" in capture(diagnosed, name="a", disks=[".."]).json()
    assert "disks" in capture(diagnosed, name="a", disks=["sda;reboot"]).json()
    assert "name" in capture(diagnosed, name="a\nb").json()
    assert "unknown" in capture(diagnosed, name="a", unknown=1).json()
    assert not Operation.objects.filter(kind="capture").exists()


def test_disks_with_names_no_block_device_has_are_ignored_in_reported_facts(
    owner_api, client, lab_server
):
    Server.objects.filter(pk=lab_server.pk).update(
        facts={"disks": [{"name": "..", "size_bytes": MIB}, {"name": "sda", "size_bytes": MIB}]}
    )
    capture = owner_api.post(
        f"/api/v1/servers/{lab_server.pk}/capture/", {"name": "all"}, format="json"
    )
    assert capture.status_code == 202  # of every disk reported: sda only
    assert Operation.objects.get(pk=capture.json()["task"]).params["disks"] == ["sda"]
    owner_api.post(f"/api/v1/operations/{capture.json()['task']}/cancel/")
    run_operation(capture.json()["task"])
    _, url, _ = booted(owner_api, client, lab_server, "diagnostics", {"wipe": "none"})
    secret = url.split("/")[3]
    disks = [
        {"name": name, "size_bytes": MIB}
        for name in ("..", "sda;reboot", "a/b", "Sda", "nvme0n1", "s" * 40)
    ]
    disks.append({"name": "vdb", "size_bytes": -1})
    reported = client.post(
        f"/boot/events/{secret}",
        {"event": "facts", "facts": {"cpu": "x", "disks": disks}},
        content_type="application/json",
    )
    assert reported.status_code == 202, reported.content
    facts = Server.objects.get(pk=lab_server.pk).facts
    assert facts == {"cpu": "x", "disks": [{"name": "nvme0n1", "size_bytes": MIB}]}


def test_a_restore_writes_the_pieces_back_and_boots_the_disk(
    owner_api, client, diagnosed, admin, customer
):
    image = captured(owner_api, client, diagnosed)
    Server.objects.filter(pk=diagnosed.pk).update(current_os="")
    op_id, url, script = booted(owner_api, client, diagnosed, "restore", {"image": image.pk})
    sha = image.disks[0]["sha256"]
    assert re.search(rf"restore_disk vda \S+/boot/disks/[\w-]+/vda 2 2 {3 * MIB} {sha} ", script)
    for index, raw in enumerate(DISK):
        piece = client.get(f"{url}/{index}")
        assert gzip.decompress(b"".join(piece.streaming_content)) == raw
    assert client.get(f"{url}/2").status_code == 404
    assert post_piece(client, f"{url}/0", DISK[0]).status_code == 404  # restores only read
    op = finish(client, op_id, url)
    assert op.state == "succeeded" and op.result["boot_device"] == "disk"
    assert Server.objects.get(pk=diagnosed.pk).current_os == "Debian 12"


def test_a_restore_onto_disks_too_small_or_of_an_image_not_ones_own_is_a_400(
    owner_api, other_api, admin_api, client, diagnosed, other_customer
):
    image = captured(owner_api, client, diagnosed)

    def restore(api, server, image_id):
        return api.post(f"/api/v1/servers/{server.pk}/restore/", {"image": image_id})

    small = make_server(owner=diagnosed.owner)
    Server.objects.filter(pk=small.pk).update(
        facts={"disks": [{"name": "sda", "size_bytes": 2 * MIB}]}
    )
    too_small = restore(owner_api, small, image.pk)
    assert too_small.status_code == 400
    assert too_small.json()["image"] == [
        f"Disk vda of golden holds 3,145,728 bytes; sda of {small.name} has only 2,097,152."
    ]
    others = make_server(owner=other_customer)
    Server.objects.filter(pk=others.pk).update(facts=diagnosed.facts)
    assert restore(other_api, others, image.pk).json()["image"] == ["No such image."]
    assert restore(owner_api, diagnosed, 999999).status_code == 400
    # Not even staff copy one customer's disks onto another customer's server.
    refused = restore(admin_api, others, image.pk)
    assert refused.status_code == 400
    assert refused.json()["image"] == [f"golden is not an image of {others.name}'s owner."]
    nobodys = make_server(owner=None)
    Server.objects.filter(pk=nobodys.pk).update(facts=diagnosed.facts)
    assert restore(admin_api, nobodys, image.pk).status_code == 400  # only staff's images
    assert not Operation.objects.filter(kind="restore").exists()


def test_images_are_seen_by_their_owner_and_staff_only(
    owner_api,
    other_api,
    admin_api,
    anonymous_api,
    client,
    diagnosed,
    django_assert_max_num_queries,
):
    image = captured(owner_api, client, diagnosed)
    assert anonymous_api.get("/api/v1/images/").status_code == 401
    assert other_api.get("/api/v1/images/").json()["results"] == []
    assert other_api.get(f"/api/v1/images/{image.pk}/").status_code == 404
    assert other_api.delete(f"/api/v1/images/{image.pk}/").status_code == 404
    with django_assert_max_num_queries(6):
        listed = owner_api.get("/api/v1/images/").json()["results"]
    assert [(i["id"], i["name"]) for i in listed] == [(image.pk, "golden")]
    assert admin_api.get("/api/v1/images/").json()["results"][0]["id"] == image.pk


def test_deleting_an_image_removes_its_pieces_unless_a_restore_uses_it(
    owner_api, admin_api, client, diagnosed, storage
):
    image = captured(owner_api, client, diagnosed)
    restore = owner_api.post(f"/api/v1/servers/{diagnosed.pk}/restore/", {"image": image.pk})
    busy = owner_api.delete(f"/api/v1/images/{image.pk}/")
    assert busy.status_code == 409 and busy.json()["operation"] == restore.json()["task"]
    owner_api.post(f"/api/v1/operations/{restore.json()['task']}/cancel/")
    run_operation(restore.json()["task"])
    assert owner_api.delete(f"/api/v1/images/{image.pk}/").status_code == 204
    assert not DiskImage.objects.exists() and not list(storage.rglob("*.gz"))
    assert AuditEvent.objects.filter(action="image.delete").count() == 1


def test_staff_capture_restore_and_delete_images_in_the_admin(
    client, admin, owner_api, diagnosed, storage, other_customer
):
    client.force_login(admin)
    page = f"/admin/inventory/server/{diagnosed.pk}/do"
    response = client.post(f"{page}/capture/", {"name": "from-admin", "disks": "vda"})
    assert response.status_code == 302
    op = Operation.objects.get(kind="capture")
    assert op.requested_by == admin and op.params["disks"] == ["vda"]
    image = DiskImage.objects.get()
    assert image.owner == diagnosed.owner  # the customer's image, in the customer's quota
    refused = client.post(f"{page}/capture/", {"name": "second"})
    assert "already has an active operation" in refused.content.decode()
    owner_api.post(f"/api/v1/operations/{op.pk}/cancel/")
    run_operation(op.pk)
    assert not DiskImage.objects.exists()  # a cancelled capture leaves nothing

    image = captured(owner_api, client, diagnosed, name="kept")
    others = make_server(owner=other_customer)
    Server.objects.filter(pk=others.pk).update(facts=diagnosed.facts)
    elsewhere = f"/admin/inventory/server/{others.pk}/do/restore/"
    assert f'value="{image.pk}"' not in client.get(elsewhere).content.decode()
    assert "valid choice" in client.post(elsewhere, {"image": image.pk}).content.decode()
    assert client.post(f"{page}/restore/", {"image": image.pk}).status_code == 302
    assert Operation.objects.get(kind="restore").params["disks"] == [
        {"name": "vda", "target": "vda"}
    ]
    listing = client.get("/admin/provisioning/diskimage/").content.decode()
    assert "kept" in listing and "owner@example.test" in listing
    shown = client.get(f"/admin/provisioning/diskimage/{image.pk}/change/").content.decode()
    assert image.disks[0]["sha256"] in shown
    busy = client.post(
        "/admin/provisioning/diskimage/",
        {"action": "delete_images", "_selected_action": [image.pk]},
        follow=True,
    )
    assert "uses kept" in busy.content.decode()
    assert DiskImage.objects.filter(pk=image.pk).exists()


def test_customers_capture_restore_list_and_delete_images_in_the_portal(
    owner_api, client, customer, other_customer, diagnosed, django_assert_max_num_queries
):
    browser = Client()
    browser.force_login(customer)
    page = browser.get(f"/servers/{diagnosed.pk}/capture/").content.decode()
    assert "vda (3.0\xa0MB)" in page
    response = browser.post(f"/servers/{diagnosed.pk}/capture/", {"name": "portal", "disks": []})
    op = Operation.objects.get(kind="capture")
    assert response.status_code == 302 and response["Location"] == f"/operations/{op.pk}/"
    assert op.params["disks"] == ["vda"]
    owner_api.post(f"/api/v1/operations/{op.pk}/cancel/")

    image = captured(owner_api, client, diagnosed, name="kept")
    with django_assert_max_num_queries(12):
        listing = browser.get("/images/").content.decode()
    assert "kept" in listing and "Ready" in listing and "You may keep 5 images" in listing
    assert f"{diagnosed.name} ({diagnosed.profile.name}), Debian 12" in listing
    stored = f"{image.stored_bytes / 1024:.1f}\xa0KB"
    assert f'3.0\xa0MB <span class="small text-body-secondary">({stored} stored)' in listing
    assert f"yours hold {stored}." in listing
    restore = browser.get(f"/servers/{diagnosed.pk}/restore/").content.decode()
    assert f'value="{image.pk}"' in restore and "kept (3.0\xa0MB, " in restore
    response = browser.post(f"/servers/{diagnosed.pk}/restore/", {"image": image.pk})
    assert response.status_code == 302
    assert Operation.objects.filter(kind="restore", server=diagnosed).exists()

    other = Client()
    other.force_login(other_customer)
    assert "kept" not in other.get("/images/").content.decode()
    assert other.post(f"/images/{image.pk}/delete/").status_code == 404
    assert other.get(f"/servers/{diagnosed.pk}/capture/").status_code == 404
    refused = browser.post(f"/images/{image.pk}/delete/", follow=True).content.decode()
    assert "uses kept" in refused  # the restore still runs


def test_customers_run_diagnostics_from_the_portal_before_a_capture(
    client, customer, other_customer, lab_server
):
    browser = Client()
    browser.force_login(customer)
    server_page = browser.get(f"/servers/{lab_server.pk}/").content.decode()
    action = f"/servers/{lab_server.pk}/diagnostics/"
    assert f'action="{action}"' in server_page and "Run diagnostics" in server_page
    capture = browser.get(f"/servers/{lab_server.pk}/capture/").content.decode()
    assert "knows no disks" in capture and f'action="{action}"' in capture
    assert ">Capture</button>" not in capture

    assert Client().post(action).status_code == 302  # to the login page
    assert not Operation.objects.exists()
    other = Client()
    other.force_login(other_customer)
    assert other.post(action).status_code == 404
    assert browser.get(action).status_code == 405

    response = browser.post(action)
    op = Operation.objects.get()
    assert op.kind == "diagnostics" and op.requested_by == customer
    assert op.params["wipe"] == "none"
    assert response.status_code == 302 and response["Location"] == f"/operations/{op.pk}/"
    again = browser.post(action, follow=True)
    assert again.redirect_chain[-1][0] == f"/servers/{lab_server.pk}/"
    assert "already has an active operation" in again.content.decode()
    assert Operation.objects.count() == 1

    facts = {"disks": [{"name": "vda", "size_bytes": 3 * MIB}]}
    Server.objects.filter(pk=lab_server.pk).update(facts=facts)
    capture = browser.get(f"/servers/{lab_server.pk}/capture/").content.decode()
    assert ">Capture</button>" in capture and "knows no disks" not in capture
