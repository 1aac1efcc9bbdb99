"""Board-only adapters (machine, network, socket): imported by a board's main.py and
the self-test, never by tests or the host."""
