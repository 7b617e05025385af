"""IP address management: networks, pools and race-free allocation.

Allocation locks the server row, then the pool row (`select_for_update`, in pool
id order), reads the pool's used addresses and inserts the first free one. Two
allocations from one pool therefore run one after the other on PostgreSQL;
SQLite serialises writers (BEGIN IMMEDIATE). The unique constraint on the
address is the backstop: a lost race becomes a 409, never a duplicate.
"""

import ipaddress

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from inventory.addresses import parse_address
from inventory.models import IpAddress, IpPool, Location, Network, Server
from panel import audit
from panel.exceptions import Conflict, PoolExhausted
from panel.models import User


@transaction.atomic
def create_network(
    *,
    actor: User,
    name: str,
    cidr: str,
    gateway: str | None = None,
    vlan: int | None = None,
    location: Location | None = None,
    dns_servers: list[str] | None = None,
    description: str = "",
    boot: bool = False,
) -> Network:
    network = Network(
        name=name,
        cidr=cidr,
        gateway=gateway or None,
        vlan=vlan,
        location=location,
        dns_servers=[str(s) for s in dns_servers or []],
        description=description,
        boot=boot,
    )
    network.full_clean(exclude=["family"])
    network.save()
    audit.record(actor=actor, action="network.create", target=network, cidr=network.cidr, boot=boot)
    return network


@transaction.atomic
def create_pool(
    *,
    actor: User,
    network: Network,
    name: str,
    first_address: str,
    last_address: str,
    is_public: bool = True,
) -> IpPool:
    pool = IpPool(
        network=network,
        name=name,
        first_address=first_address,
        last_address=last_address,
        is_public=is_public,
    )
    pool.full_clean()
    pool.save()
    audit.record(actor=actor, action="pool.create", target=pool, range=f"{pool.first}-{pool.last}")
    return pool


def check_location(server: Server, network: Network, *, field: str) -> None:
    """Refuse an address of a network that is not where the server is: a network with a
    location serves only servers racked there (networks without one serve every location).
    A server in no rack has no known location, so only networks without one serve it."""
    if network.location_id is None:
        return
    here = server.rack.location if server.rack_id else None
    if here is None or here.pk != network.location_id:
        where = f"in {here.name}" if here else "in no known location (it has no rack)"
        raise ValidationError(
            {
                field: [
                    f"Network {network.name} ({network.cidr}) is in {network.location.name}; "
                    f"{server.name} is {where}."
                ]
            }
        )


def _candidate_pools(server: Server, *, pool, network, address, family) -> list[IpPool]:
    """Pools to allocate from, in the order they are tried (and locked)."""
    if pool is not None and network is not None and pool.network_id != network.pk:
        raise ValidationError({"network": [f"Pool {pool.name} is not in network {network.name}."]})
    if pool is not None:
        pools, field = [pool], "pool"
    elif network is not None:
        pools, field = list(network.pools.select_related("network").order_by("pk")), "network"
        if not pools:
            raise ValidationError({"network": [f"Network {network.name} has no IP pools."]})
    else:
        wanted = address.version if address else family
        scope = Q(network__family=wanted)
        if address is None:
            location = server.rack.location_id if server.rack_id else None
            local = Q(network__location__isnull=True) | Q(network__location=location)
            scope &= local & Q(is_public=True)
        pools = list(IpPool.objects.select_related("network").filter(scope).order_by("pk"))
        field = "family" if address is None else "address"
        if not pools:
            raise ValidationError(
                {"family": [f"No public IPv{wanted} pool serves this server's location."]}
            )
    versions = {p.network.family for p in pools}
    if family and versions != {family}:
        raise ValidationError({"family": [f"That pool or network is not IPv{family}."]})
    if address is not None:
        pools = [p for p in pools if p.contains(address)]
        if not pools:
            raise ValidationError({"address": [f"{address} is not inside the pools asked for."]})
    for candidate in pools:
        check_location(server, candidate.network, field=field)
    return pools


def _next_free(pool: IpPool):
    """The lowest address of the pool that is neither used nor excluded, or None."""
    taken = {int(ipaddress.ip_address(a)) for a in pool.addresses.values_list("address", flat=True)}
    taken |= {int(a) for a in pool.excluded()}
    candidate, last = int(pool.first), int(pool.last)
    while candidate <= last:
        if candidate not in taken:
            return ipaddress.ip_address(candidate)
        candidate += 1
    return None


@transaction.atomic
def allocate_ip(
    *,
    actor: User,
    server: Server,
    pool: IpPool | None = None,
    network: Network | None = None,
    address: str | None = None,
    family: int | None = None,
    set_as_main: bool | None = None,
) -> IpAddress:
    """Give `server` the next free (or the requested) address; a family's first becomes main."""
    server = (
        Server.objects.select_for_update(of=("self",))
        .select_related("rack__location")
        .get(pk=server.pk)
    )
    wanted = parse_address(address) if address else None
    pools = _candidate_pools(
        server,
        pool=pool,
        network=network,
        address=wanted,
        family=family or (None if (pool or network or wanted) else 4),
    )
    chosen = None
    for candidate in pools:
        locked = (
            IpPool.objects.select_for_update(of=("self",))
            .select_related("network")
            .get(pk=candidate.pk)
        )
        if wanted is not None:
            if wanted in locked.excluded():
                raise ValidationError({"address": [f"{wanted} is the network's gateway."]})
            holder = IpAddress.objects.filter(address=str(wanted)).select_related("server").first()
            if holder is not None:
                raise Conflict(f"{wanted} is already in use.")
            chosen = (locked, wanted)
            break
        free = _next_free(locked)
        if free is not None:
            chosen = (locked, free)
            break
    if chosen is None:
        raise PoolExhausted(f"No free address left in {', '.join(p.name for p in pools)}.")
    locked, ip = chosen
    has_main = server.ip_addresses.filter(family=ip.version, is_main=True)
    main = set_as_main if set_as_main is not None else not has_main.exists()
    now = timezone.now()
    if main:
        has_main.update(is_main=False, updated_at=now)
    # Its addresses are part of a server as a billing system syncs it (?updated_since=).
    Server.objects.filter(pk=server.pk).update(updated_at=now)
    try:
        with transaction.atomic():
            allocated = IpAddress.objects.create(
                address=str(ip), family=ip.version, pool=locked, server=server, is_main=main
            )
    except IntegrityError as exc:
        raise Conflict(f"{ip} was taken by a concurrent request; retry.") from exc
    audit.record(
        actor=actor,
        action="ip.allocate",
        target=server,
        address=str(ip),
        pool=locked.name,
        is_main=main,
    )
    return allocated


@transaction.atomic
def release_ip(*, actor: User, ip: IpAddress) -> None:
    """Return an address to its pool."""
    server = ip.server
    audit.record(actor=actor, action="ip.release", target=server or ip, address=ip.address)
    ip.delete()
    if server is not None:
        Server.objects.filter(pk=server.pk).update(updated_at=timezone.now())
