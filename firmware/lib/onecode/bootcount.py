"""A persistent boot counter: (device, boot, seq) names every record a device sends.

Written once per boot with the power-safe replace (write x.tmp, then os.rename over
the target; littlefs makes the rename atomic), so flash wear is one small write per
boot. Must never be called per record.
"""
import os


def next_boot(path):
    """Read the last boot number at `path`, store and return it plus one."""
    n = 0
    try:
        with open(path) as f:
            n = int(f.read().strip() or "0")
    except (OSError, ValueError):
        n = 0  # first boot, or a file cut short by power loss before any rename
    n += 1
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(n))
    os.rename(tmp, path)
    return n
