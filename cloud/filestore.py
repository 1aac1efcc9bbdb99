"""Content-addressed storage for the files master data refers to (QC reports,
certificates, product images), under the app's FILES_DIR.

A file is kept once, at `{sha256[:2]}/{sha256}` below FILES_DIR; the database holds
only that relative path (cloud.master.Document). A file is written to a temporary
name, flushed to disk and renamed, so a stored path always has all its bytes: store
the file first, then commit the row that names it. Must never put file bytes in the
database, overwrite a stored file, or resolve a path outside FILES_DIR.
"""
import hashlib
import os
import tempfile
from collections import namedtuple

DEFAULT_FILES_DIR = "var/cloud/files"
CHUNK = 1 << 16

StoredFile = namedtuple("StoredFile", "sha256 size storage_path")


def storage_path(sha256):
    """Relative path ('/'-separated) of the file with this sha256 (64 lower-case hex)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest: %r" % (sha256,))
    return "%s/%s" % (sha256[:2], sha256)


def path_of(files_dir, rel):
    """Absolute path of a stored file; refuses anything that would leave files_dir."""
    root = os.path.realpath(files_dir)
    full = os.path.realpath(os.path.join(root, *rel.split("/")))
    if os.path.commonpath([root, full]) != root or full == root:
        raise ValueError("storage path %r is outside the files directory" % (rel,))
    return full


def store(files_dir, src):
    """Copy the file at path src into files_dir (once per content) -> StoredFile.
    Raises OSError if src cannot be read or files_dir not written."""
    os.makedirs(files_dir, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(prefix=".incoming-", dir=files_dir)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        rel = storage_path(sha)
        final = path_of(files_dir, rel)
        if os.path.exists(final) and os.path.getsize(final) == size:
            os.unlink(tmp)  # already stored: same name means same bytes
        else:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(tmp, final)
        return StoredFile(sha, size, rel)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
