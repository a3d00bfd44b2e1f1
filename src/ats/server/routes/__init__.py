"""HTTP routes; thin: parse, call the service, render."""
