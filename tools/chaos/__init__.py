"""`make chaos`: the whole OneCode pipeline under scripted faults, reconciled by a
ledger of every record the devices produced (docs/chaos.md)."""
