"""The rules around the store: project scopes, the clock, the lease reaper."""
