"""The dispatcher ``ats dispatch`` (SPEC §6): claims tasks, runs them, renews leases, reports."""
