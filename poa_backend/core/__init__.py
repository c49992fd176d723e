"""The plug-in core: what handlers, receivers and third parties build on.

The ``Message``, the intake check, metric types, the signals between the two sides,
the plug-in bases, presence and the process lifecycle. It imports neither the
``handlers`` nor the ``receivers`` app (``tests/test_layout.py`` checks it).
"""
