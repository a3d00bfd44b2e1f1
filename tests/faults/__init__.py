"""Fault tier: real servers killed, databases restarted, files made unwritable, disks filled."""
