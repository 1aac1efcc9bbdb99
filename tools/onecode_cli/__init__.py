"""The `onecode` command line: the technician's and developer's tool.

Each subcommand lives in its own module with a `register(subparsers)` function that
adds its parser and sets `func`; this package must never import the cloud or the
gateway at import time (start-up of `onecode --help` stays fast).
"""
