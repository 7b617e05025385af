"""Filters that make a value safe where a boot script or installer config puts it.

Values in an install's context (the server's name and serial, SSH keys, the password hash,
OS names, URLs) end up in line-based formats where a line break starts a new directive:
an iPXE command, a kickstart section (`%pre`), a preseed answer, a shell command. So every
filter first makes the value one line (line breaks, other control characters and what
UTF-8 cannot encode become `?`), then quotes or neutralises it for its format:

    line   comments, preseed answers: no backslash either (it joins lines in preseed, iPXE)
    sh     one shell word (kickstart commands are split by the same rules)
    yaml   a YAML scalar, or a flow sequence for a list (autoinstall, cloud-init)
    ipxe   text in an iPXE command: no `${}` expansion, no `||`/`&&`/`;` or `#` token

The sandbox of provisioning.installers has them built in; file templates `{% load %}` them.
"""

import re
import shlex

from django import template

register = template.Library()

_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
_IPXE_TOKENS = ("||", "&&", ";")


def _one_line(value) -> str:
    return _NOT_ONE_LINE.sub("?", str(value))


@register.filter
def line(value) -> str:
    return _one_line(value).replace("\\", "?")


@register.filter
def sh(value) -> str:
    return shlex.quote(_one_line(value))


@register.filter
def yaml(value) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml(item) for item in value) + "]"
    return "'" + _one_line(value).replace("'", "''") + "'"


@register.filter
def ipxe(value) -> str:
    words = line(value).replace("$", "?").split(" ")
    return " ".join(
        "?" + word[1:] if word in _IPXE_TOKENS or word.startswith("#") else word for word in words
    )
