"""Installer configs rendered from the shipped OS templates, checked by the installers' rules."""

import re
import shlex
import subprocess

import pytest
import yaml
from django.core.exceptions import ValidationError
from passlib.hash import sha512_crypt

from inventory import ipam
from inventory.models import IpPool, Network
from provisioning import installers
from provisioning.models import OsTemplate
from tests.factories import ED25519, RSA_1024, make_server

URLS = {
    "config_url": "http://panel.test/boot/config/SECRET",
    "events_url": "http://panel.test/boot/events/SECRET",
    "panel_url": "http://panel.test",
}


@pytest.fixture
def server(admin, customer):
    server = make_server(actor=admin, owner=customer, name="web-01")
    network = Network(
        name="public",
        cidr="203.0.113.0/24",
        gateway="203.0.113.1",
        dns_servers=["192.0.2.53", "192.0.2.54"],
    )
    network.full_clean()
    network.save()
    IpPool.objects.create(
        network=network, name="p", first_address="203.0.113.10", last_address="203.0.113.20"
    )
    ipam.allocate_ip(actor=admin, server=server, network=network)
    return server


def render(server, name, **params):
    template = OsTemplate.objects.get(name=name)
    params = {
        "raid": "no_raid",
        "ssh_keys": [ED25519, RSA_1024],
        "password_hash": installers.hash_password("Correct-Horse-9"),
        **params,
    }
    context = installers.install_context(server=server, template=template, params=params, urls=URLS)
    return installers.render(template.config, context, "installer config")


@pytest.mark.parametrize(
    "disks,raid", [(1, "no_raid"), (2, "raid_0"), (2, "raid_1"), (3, "raid_5"), (4, "raid_10")]
)
def test_kickstart_passes_ksvalidator_for_every_raid_layout(server, tmp_path, disks, raid):
    server.profile.disk_count = disks
    server.profile.save()
    text = render(server, "AlmaLinux 9", raid=raid)
    path = tmp_path / "ks.cfg"
    path.write_text(text)
    checked = subprocess.run(
        ["ksvalidator", "-v", "RHEL9", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr + text
    assert "--ip=203.0.113.10 --netmask=255.255.255.0 --gateway=203.0.113.1" in text
    assert "--nameserver=192.0.2.53,192.0.2.54 --hostname=web-01" in text
    rootpw = re.search(r"^rootpw --iscrypted .+$", text, re.MULTILINE).group(0)
    crypted = shlex.split(rootpw)[2]
    assert crypted.startswith("$6$") and sha512_crypt.verify("Correct-Horse-9", crypted)
    assert f"printf '%s\\n' '{ED25519}' >> /root/.ssh/authorized_keys" in text
    assert f"printf '%s\\n' '{RSA_1024}' >> /root/.ssh/authorized_keys" in text
    assert "Correct-Horse-9" not in text
    assert URLS["events_url"] in text
    if raid != "no_raid":
        assert f"--level=RAID{installers.RAID_LAYOUTS[raid][0]}" in text


def test_the_crypt_rounds_are_a_setting(settings):
    settings.PANEL_CRYPT_ROUNDS = 20_000
    crypted = installers.hash_password("Correct-Horse-9")
    assert crypted.startswith("$6$rounds=20000$")
    assert sha512_crypt.verify("Correct-Horse-9", crypted)


def test_kickstart_without_password_locks_root_and_uses_dhcp_without_an_address(admin):
    server = make_server(actor=admin)
    text = render(server, "Rocky Linux 9", password_hash="")
    assert "rootpw --lock" in text
    assert "network --bootproto=dhcp" in text
    assert "download.rockylinux.org" in text


def test_preseed_lines_are_well_formed(server):
    server.profile.disk_count = 2
    server.profile.save()
    text = render(server, "Debian 12", raid="raid_1")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            _owner, _question, kind, *_value = line.split(" ", 3)
            assert kind in ("string", "boolean", "select", "multiselect", "password", "note"), line
    assert "d-i netcfg/get_ipaddress string 203.0.113.10" in text
    assert "d-i passwd/root-password-crypted password $6$" in text
    assert "1 2 0 ext4 / /dev/sda1#/dev/sdb1 ." in text
    assert ED25519 in text


def test_autoinstall_is_valid_yaml_with_network_keys_and_raid(server):
    server.profile.disk_count = 2
    server.profile.save()
    data = yaml.safe_load(render(server, "Ubuntu 24.04 LTS", raid="raid_1"))["autoinstall"]
    assert data["identity"]["hostname"] == "web-01"
    assert data["identity"]["password"].startswith("$6$")
    assert data["ssh"]["authorized-keys"] == [ED25519, RSA_1024]
    nic = data["network"]["ethernets"]["pxe"]
    assert nic["addresses"] == ["203.0.113.10/24"]
    assert nic["nameservers"]["addresses"] == ["192.0.2.53", "192.0.2.54"]
    raid = [item for item in data["storage"]["config"] if item["type"] == "raid"]
    assert raid[0]["raidlevel"] == 1 and raid[0]["devices"] == ["part1", "part2"]


def test_autoinstall_with_one_disk_and_keys_only(server):
    data = yaml.safe_load(render(server, "Ubuntu 24.04 LTS", password_hash="", ssh_keys=[]))
    assert data["autoinstall"]["storage"]["layout"]["name"] == "direct"
    assert data["autoinstall"]["ssh"]["allow-pw"] is False


@pytest.mark.parametrize(
    ("disks", "allowed"),
    [
        (1, ["no_raid"]),
        (2, ["no_raid", "raid_0", "raid_1"]),
        (3, ["no_raid", "raid_0", "raid_1", "raid_5"]),
        (4, ["no_raid", "raid_0", "raid_1", "raid_5", "raid_10"]),
        (5, ["no_raid", "raid_0", "raid_1", "raid_5"]),
    ],
)
def test_raid_layouts_follow_the_disk_count(disks, allowed):
    assert installers.raid_layouts_for(disks) == allowed


def test_a_raid_the_disks_cannot_take_is_refused_with_the_reason():
    with pytest.raises(ValidationError, match="needs 3 disks or more; this server has 2"):
        installers.check_raid("raid_5", 2)


def test_templates_render_in_a_sandbox(server, db):
    template = OsTemplate(name="x", family="custom-ipxe", config='{% include "base.html" %}')
    context = installers.install_context(server=server, template=template, params={}, urls=URLS)
    with pytest.raises(installers.RenderError, match="cannot be rendered"):
        installers.render(template.config, context, "config")
    assert installers.render("{{ server.owner }}{{ server.name }}", context, "c") == server.name


def test_a_template_with_a_syntax_error_is_refused_when_saved():
    template = OsTemplate(
        name="broken", family="kickstart", kernel_url="http://k", config="{% if %}"
    )
    with pytest.raises(ValidationError) as error:
        template.clean()
    assert "config" in error.value.message_dict
