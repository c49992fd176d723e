#!/usr/bin/env python
"""Django's command-line utility for poa_backend."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poa_backend.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A missing setting is an operator's fix, not a crash: one line, no traceback.
        sys.exit(f"poa_backend: configuration error: {exc}")


if __name__ == "__main__":
    main()
