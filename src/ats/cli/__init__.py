"""The ``ats`` command line: typer commands over the SDK; ``main.run`` is the entry point."""
