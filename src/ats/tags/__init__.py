"""Tag delegation in Markdown files (SPEC §8): the tag grammar, find, race-safe edits, and the
``ats delegate`` workflow on top of them. Everything here but ``publish`` works without a server."""
