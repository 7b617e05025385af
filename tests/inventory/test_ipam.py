import pytest
from django.core.exceptions import ValidationError

from inventory import ipam
from inventory.models import IpAddress
from panel.exceptions import Conflict, PoolExhausted
from tests.factories import make_pool, make_rack, make_server


def test_allocation_hands_out_addresses_in_order_skipping_the_gateway(admin, free_server):
    pool = make_pool(cidr="192.0.2.0/24", first="192.0.2.1", last="192.0.2.4", gateway="192.0.2.1")
    first = ipam.allocate_ip(actor=admin, server=free_server, pool=pool)
    second = ipam.allocate_ip(actor=admin, server=free_server, pool=pool)
    assert (first.address, second.address) == ("192.0.2.2", "192.0.2.3")
    assert first.is_main and not second.is_main
    assert pool.size == 3


def test_released_addresses_are_reused(admin, free_server):
    pool = make_pool(first="192.0.2.10", last="192.0.2.11")
    first = ipam.allocate_ip(actor=admin, server=free_server, pool=pool)
    ipam.allocate_ip(actor=admin, server=free_server, pool=pool)
    ipam.release_ip(actor=admin, ip=first)
    assert ipam.allocate_ip(actor=admin, server=free_server, pool=pool).address == "192.0.2.10"


def test_an_exhausted_pool_is_a_clean_error(admin, free_server):
    pool = make_pool(first="192.0.2.10", last="192.0.2.10")
    ipam.allocate_ip(actor=admin, server=free_server, pool=pool)
    with pytest.raises(PoolExhausted):
        ipam.allocate_ip(actor=admin, server=free_server, pool=pool)


def test_a_requested_address_is_given_once(admin, free_server, owned_server):
    pool = make_pool()
    assert ipam.allocate_ip(actor=admin, server=free_server, address="192.0.2.15").pool == pool
    with pytest.raises(Conflict):
        ipam.allocate_ip(actor=admin, server=owned_server, pool=pool, address="192.0.2.15")
    with pytest.raises(ValidationError):
        ipam.allocate_ip(actor=admin, server=owned_server, pool=pool, address="192.0.2.99")


def test_a_server_has_at_most_one_main_address_per_family(admin, free_server):
    v4 = make_pool()
    v6 = make_pool(cidr="2001:db8::/64", first="2001:db8::10", last="2001:db8::ff")
    a = ipam.allocate_ip(actor=admin, server=free_server, pool=v4)
    b = ipam.allocate_ip(actor=admin, server=free_server, pool=v6)
    c = ipam.allocate_ip(actor=admin, server=free_server, pool=v4, set_as_main=True)
    mains = set(
        IpAddress.objects.filter(server=free_server, is_main=True).values_list("address", flat=True)
    )
    assert mains == {b.address, c.address}
    assert b.address == "2001:db8::10"
    assert not IpAddress.objects.get(pk=a.pk).is_main


def test_allocation_by_family_picks_a_public_pool_of_the_servers_location(admin):
    rack = make_rack()
    server = make_server(rack=rack, unit=1)
    make_pool(
        cidr="198.51.100.0/24",
        first="198.51.100.10",
        last="198.51.100.20",
        location=make_rack().location,
    )
    local = make_pool(
        cidr="203.0.113.0/24", first="203.0.113.10", last="203.0.113.20", location=rack.location
    )
    assert ipam.allocate_ip(actor=admin, server=server, family=4).pool == local
    with pytest.raises(ValidationError):
        ipam.allocate_ip(actor=admin, server=server, family=6)


@pytest.mark.parametrize(
    ("cidr", "first", "last", "field"),
    [
        ("192.0.2.0/24", "192.0.2.0", "192.0.2.10", "first_address"),
        ("192.0.2.0/24", "192.0.2.10", "192.0.2.255", "last_address"),
        ("192.0.2.0/24", "192.0.2.10", "198.51.100.1", "last_address"),
        ("192.0.2.0/24", "192.0.2.20", "192.0.2.10", "last_address"),
        ("192.0.2.0/24", "2001:db8::1", "192.0.2.10", "first_address"),
    ],
)
def test_pools_must_lie_inside_their_network(admin, cidr, first, last, field):
    with pytest.raises(ValidationError) as error:
        make_pool(cidr=cidr, first=first, last=last)
    assert field in error.value.message_dict


def test_pools_of_one_network_do_not_overlap(admin):
    pool = make_pool(first="192.0.2.10", last="192.0.2.20")
    with pytest.raises(ValidationError) as error:
        ipam.create_pool(
            actor=admin,
            network=pool.network,
            name="b",
            first_address="192.0.2.20",
            last_address="192.0.2.30",
        )
    assert "overlaps" in str(error.value)


def test_networks_do_not_overlap_and_need_a_canonical_cidr(admin):
    ipam.create_network(actor=admin, name="a", cidr="10.0.0.0/16")
    for cidr in ("10.0.1.0/24", "10.0.0.1/24", "300.0.0.0/8", "banana"):
        with pytest.raises(ValidationError) as error:
            ipam.create_network(actor=admin, name="b", cidr=cidr)
        assert "cidr" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        ipam.create_network(actor=admin, name="c", cidr="10.1.0.0/24", gateway="10.2.0.1")
    assert "gateway" in error.value.message_dict


def test_a_server_in_no_rack_takes_addresses_only_from_networks_without_a_location(
    admin, free_server
):
    """Its location is unknown: a located network might be in another datacenter."""
    located = make_pool(location=make_rack().location)
    with pytest.raises(ValidationError) as error:
        ipam.allocate_ip(actor=admin, server=free_server, pool=located)
    assert "has no rack" in error.value.message_dict["pool"][0]
    global_pool = make_pool(cidr="198.51.100.0/24", first="198.51.100.10", last="198.51.100.20")
    assert ipam.allocate_ip(actor=admin, server=free_server, pool=global_pool).pool == global_pool
