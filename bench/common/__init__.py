"""What the suites share: the target server, the lean HTTP client, measurement, results."""
