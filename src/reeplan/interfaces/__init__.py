"""User interfaces: the command line (and later the dashboard), thin over the Python API."""
