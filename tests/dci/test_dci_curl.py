"""The curl lines of ISPsystem's "Examples of API use" page, run with curl against a live
panel: only the domain, the session and the ids are filled in (and the page's one unbalanced
quote, in the IP allocation line, closed). Each answers 200 with the documented keys."""

import json
import shlex
import subprocess
from string import Template

import pytest

from inventory.models import IpAddress, IpPool
from provisioning.models import BootTicket, Operation, OsTemplate
from tests.dci.conftest import dci_login
from tests.factories import ED25519, make_pool

pytestmark = pytest.mark.django_db(transaction=True)

READ = "-H 'Cookie: ses6=$session' -H 'isp-box-instance: true'"
WRITE = "-H 'Cookie: ses6=$session' -H 'x-xsrf-token: $session' -H 'isp-box-instance: true'"
SERVER = "'https://domain.com/api/dci/v3/server/$server"
PAGE = [
    # (curl arguments as the page writes them, the keys of the answer)
    (f"-X GET 'https://domain.com/api/dci/v3/server/configuration' {READ}", {"list"}),
    (f"-X GET 'https://domain.com/api/dci/v3/server' {READ}", {"list"}),
    (f"-X GET {SERVER}' {READ}", {"id", "state"}),
    (f"-X GET 'https://domain.com/api/dci/v3/user' {READ}", {"list"}),
    (
        f"-X POST 'https://domain.com/api/dci/v3/user' {WRITE} -d "
        """'{"email":"admin@example.com","full_name":"name","password":"a-long-pass-phrase","""
        """"phone_number":"phone","role":"@user"}'""",
        {"id"},
    ),
    (f"-X DELETE {SERVER}/owner' {WRITE}", {"id"}),
    (f"""-X POST {SERVER}/owner' {WRITE} -d '{{"owner":$owner}}'""", {"id"}),
    (f"-X POST {SERVER}/power_on' {WRITE} -d '{{}}'", {"id", "task"}),
    (f"-X GET 'https://domain.com/api/dci/v3/ip' {READ}", {"list"}),
    (f"-X GET {SERVER}/ip' {READ}", {"list"}),
    (f"-X GET 'https://domain.com/api/ip/v3/ipnet' {READ}", {"list"}),
    (f"-X GET 'https://domain.com/api/ip/v3/ippool' {READ}", {"list"}),
    (
        f"-X POST {SERVER}/ip' {WRITE} -d "
        """'{"domain":"domain_name","family":"ipv4","ip_name":"198.51.100.12","ip_net":$net,"""
        """"ip_pool":$pool,"set_as_main_ipv4":false,"userspace":0}'""",
        {"id", "task"},
    ),
    (f"-X POST {SERVER}/ip/$ip' {WRITE} -d '{{}}'", {"id", "task"}),
]
OPERATIONS = [
    # Each starts an operation; it is marked ended before the next one starts.
    f"-X POST {SERVER}/suspend' {WRITE} -d '{{}}'",
    f"-X POST {SERVER}/resume' {WRITE} -d '{{}}'",
    f"-X POST {SERVER}/power_off' {WRITE} -d '{{}}'",
    f"-X POST {SERVER}/power_reset' {WRITE} -d '{{}}'",
    f"-X POST {SERVER}/operation_diag' {WRITE} -d "
    """'{"setup_ipmi":false,"ipmi_pool":0,"os_template_id":0,"clear_hdd":"none"}'""",
    f"""-X POST {SERVER}/operation_clear_hdd' {WRITE} -d '{{"clear_hdd":"simple"}}'""",
    f"-X POST {SERVER}/operation_os' {WRITE} -d "
    """'{"hdd_raid":"no_raid","os_template_id":$template,"password":"a-long-root-pass","""
    """"ssh_pub_keys":["$key"]}'""",
]


def curl(arguments: str, base_url: str, **values) -> tuple[int, dict]:
    line = Template(arguments).substitute(values).replace("https://domain.com", base_url)
    result = subprocess.run(
        ["curl", "-sS", "-w", "\n%{http_code}", *shlex.split(line)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    body, status = result.stdout.rsplit("\n", 1)
    return int(status), json.loads(body)


def test_the_pages_curl_lines_work_as_written(
    live_server, admin, racked_server, shipped_os_templates
):
    session = dci_login(admin).key
    pool = make_pool(cidr="198.51.100.0/24", first="198.51.100.10", last="198.51.100.20")
    values = dict(
        session=session,
        server=racked_server.pk,
        owner=racked_server.owner_id,
        net=pool.network_id,
        pool=pool.pk,
        template=OsTemplate.objects.get(name="AlmaLinux 9").pk,
        key=ED25519,
    )
    for arguments, keys in PAGE:
        values["ip"] = IpAddress.objects.filter(pool=IpPool.objects.get(pk=pool.pk)).first()
        values["ip"] = values["ip"].pk if values["ip"] else 0
        status, answer = curl(arguments, live_server.url, **values)
        assert status == 200 and keys <= set(answer), (arguments, answer)
    Operation.objects.update(state=Operation.State.SUCCEEDED)  # power_on's
    for arguments in OPERATIONS:
        status, answer = curl(arguments, live_server.url, **values)
        assert status == 200 and set(answer) == {"id", "task"}, (arguments, answer)
        # Ended, as a worker ends it: its boot ticket dies with it.
        Operation.objects.filter(pk=answer["task"]).update(state=Operation.State.SUCCEEDED)
        BootTicket.objects.filter(operation=answer["task"]).revoke()
    assert Operation.objects.filter(state="succeeded").count() == len(OPERATIONS) + 1
