#!/usr/bin/env python
"""Django's command-line utility for Metalpanel."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")
    if sys.argv[1:2] == ["demo"]:
        # The demo runs without DEBUG, on its own secret key (panel.settings); so do the web
        # server, workers and simlab it starts, which inherit this.
        os.environ.setdefault("PANEL_DEMO", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
