"""Virtual devices and hardware for simulation and tests (host only)."""
