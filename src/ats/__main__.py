"""``python -m ats`` is the ``ats`` command."""

from ats.cli.main import run

run()
