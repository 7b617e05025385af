"""`manage.py dnsmasq_config`: reservations from IPAM, checked by Debian's dnsmasq itself."""

import shutil
import subprocess
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inventory import ipam
from inventory.models import Server
from tests.factories import make_pool, make_server


def dnsmasq_config(**options) -> str:
    out = StringIO()
    call_command("dnsmasq_config", stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def fleet(admin):
    network = ipam.create_network(
        actor=admin,
        name="fra1 public",
        cidr="198.51.100.0/24",
        gateway="198.51.100.1",
        dns_servers=["192.0.2.53", "192.0.2.54"],
        boot=True,
    )
    pool = ipam.create_pool(
        actor=admin,
        network=network,
        name="fra1",
        first_address="198.51.100.10",
        last_address="198.51.100.20",
    )
    with_ip = make_server(actor=admin, name="web-01", mac="52:54:00:aa:00:01")
    ipam.allocate_ip(actor=admin, server=with_ip, pool=pool)
    make_server(actor=admin, name="spare-02", mac="52:54:00:aa:00:02")
    make_server(actor=admin, name="no-mac", mac=None)
    return network


def test_reservations_and_the_ipxe_chain(fleet):
    config = dnsmasq_config(boot_url="http://10.0.0.2:8000/", interface="eth1")
    lines = config.splitlines()
    assert "dhcp-host=52:54:00:aa:00:01,198.51.100.10,web-01" in lines
    assert f"dhcp-range=set:net{fleet.pk},198.51.100.0,static,255.255.255.0,12h" in lines
    assert f"dhcp-option=tag:net{fleet.pk},option:router,198.51.100.1" in lines
    assert f"dhcp-option=tag:net{fleet.pk},option:dns-server,192.0.2.53,192.0.2.54" in lines
    assert "dhcp-boot=tag:ipxe,http://10.0.0.2:8000/boot/ipxe?mac=${net0/mac}" in lines
    assert "dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe" in lines
    assert "interface=eth1" in lines
    # A server without an address is named, not silently left out; one without a MAC is not.
    assert "#   spare-02 52:54:00:aa:00:02" in lines
    assert "no-mac" not in config
    assert "1 host reservations" in config


@pytest.mark.skipif(not shutil.which("dnsmasq"), reason="needs Debian's dnsmasq-base")
def test_dnsmasq_accepts_it(fleet, tmp_path):
    conf = tmp_path / "boot.conf"
    conf.write_text(dnsmasq_config(boot_url="http://10.0.0.2:8000"))
    checked = subprocess.run(
        ["dnsmasq", "--test", f"--conf-file={conf}"], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr
    assert "syntax check OK" in checked.stderr


def test_only_addresses_on_boot_networks_are_reserved_and_the_boundary_is_explained(
    admin, fleet, settings
):
    settings.PANEL_BOOT_ALLOWED_CIDRS = ["10.0.0.2/32"]
    office = make_pool(cidr="192.0.2.0/24", first="192.0.2.10", last="192.0.2.20")
    elsewhere = make_server(actor=admin, name="elsewhere", mac="52:54:00:aa:00:03")
    ipam.allocate_ip(actor=admin, server=elsewhere, pool=office)
    config = dnsmasq_config(boot_url="http://10.0.0.2:8000")
    lines = config.splitlines()
    assert "dhcp-host=52:54:00:aa:00:03,192.0.2.10,elsewhere" not in lines
    assert "#   elsewhere 52:54:00:aa:00:03" in lines
    assert "#   fra1 public (198.51.100.0/24)" in lines
    assert "# PANEL_BOOT_ALLOWED_CIDRS: 10.0.0.2/32" in lines
    assert "bound to one source address" in config and "boot.refused" in config


def test_without_a_boot_network_nothing_is_reserved_and_it_says_why(admin):
    make_server(actor=admin, name="web-09", mac="52:54:00:aa:00:09")
    config = dnsmasq_config(boot_url="http://10.0.0.2:8000")
    assert "0 host reservations" in config and "dhcp-host=" not in config
    assert "No network is a boot network yet" in config


def test_a_boot_url_is_required_and_checked(db, settings):
    settings.PANEL_BOOT_URL = ""
    with pytest.raises(CommandError, match="--boot-url"):
        dnsmasq_config()
    with pytest.raises(CommandError, match="not a URL machines can reach"):
        dnsmasq_config(boot_url="tftp://10.0.0.2")
    with pytest.raises(CommandError, match="not a URL machines can reach"):
        dnsmasq_config(boot_url="http://10.0.0.2/?x=1")


def test_the_setting_is_the_default(db, settings):
    settings.PANEL_BOOT_URL = "http://boot.example:8000"
    assert "dhcp-boot=tag:ipxe,http://boot.example:8000/boot/ipxe" in dnsmasq_config()


def test_a_name_enrolled_before_the_host_name_rule_adds_no_dnsmasq_line(fleet, admin):
    spare = make_server(actor=admin, mac="52:54:00:aa:00:03")
    Server.objects.filter(pk=spare.pk).update(name="x\ndhcp-boot=tag:ipxe,http://evil/x")
    config = dnsmasq_config(boot_url="http://10.0.0.2:8000")
    assert not [line for line in config.splitlines() if "evil" in line and line[0] != "#"]
