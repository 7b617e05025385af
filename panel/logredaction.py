"""Boot ticket secrets travel in URL paths (installers can send nothing else), so Django's
request log lines would carry them: this filter puts a placeholder in their place."""

import logging
import re

BOOT_SECRET = re.compile(r"(/boot/(?:config|events)/)[^/\s?\"']+")


def redact(text: str) -> str:
    return BOOT_SECRET.sub(r"\1[secret]", text)


class RedactBootSecrets(logging.Filter):
    """For the loggers that name request paths (django.request, django.server)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(str(record.msg))
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in args)
        return True
