"""From console forms and uploads to master-data documents: the console writes master
data through cloud.masterdata's loader, in the caller's session, so a form, a CSV
import and `onecode cloud load-master` obey the same rules and give the same zh/en
errors (cloud.masterdata_check).

- A form's input names are the document's field names (`masterdata.FIELDS`); blank
  inputs are left out, as a JSON document would leave them out.
- `apply(s, doc)` upserts a document in session `s` without committing, so the view
  writes the audit row in the same transaction.
- Uploads are judged by their bytes, never by the file name or the declared type:
  PNG and JPEG for product images, those or PDF for batch documents, each size-limited.
- `snapshot(row)` is the before/after an audit row records.

Must never import Flask, commit, or take a file's type from its name.
"""
import datetime
import os
import shutil
import tempfile

from cloud import filestore, masterdata
from cloud.documents import download_name
from cloud.masterdata_check import MasterDataError

PNG, JPEG, PDF = "image/png", "image/jpeg", "application/pdf"
IMAGE_TYPES = (PNG, JPEG)
DOCUMENT_TYPES = (PDF, PNG, JPEG)
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # config CONSOLE_MAX_IMAGE_BYTES
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024  # config CONSOLE_MAX_DOCUMENT_BYTES
SECRET_COLUMNS = ("tracking_token",)  # never copied into the audit log


def apply(s, doc, files_dir=None):
    """Upsert every section of doc in session s, in the loader's order, without
    committing -> [(section, index, state)] with state created/updated/unchanged.
    Raises MasterDataError; the caller rolls back."""
    unknown = sorted(set(doc) - set(masterdata.SECTIONS))
    if unknown:
        raise MasterDataError(unknown[0], "unknown section", "未知部分")
    return masterdata.load_into(s, doc, files_dir)  # the one implementation of the rules


def error_place(err):
    """MasterDataError -> (section, field path without indices) of the input it is
    about: 'batches[0].documents[1].kind' -> ('batches', 'documents.kind')."""
    section, _, rest = err.where.partition("[")
    rest = rest.partition("].")[2]
    path = ".".join(part.split("[")[0] for part in rest.split(".")) if rest else None
    return section, path or None


def entry(form, section, names=None):
    """The document entry of a section from form fields (stripped, blanks left out)."""
    out = {}
    for name in names or masterdata.FIELDS[section]:
        value = form.get(name)
        if isinstance(value, str):
            value = value.strip()
            if value:
                out[name] = value
    return out


def sniff(data):
    """The content type of a file from its first bytes, or None if not one we take."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"%PDF-"):
        return PDF
    return None


def check_upload(field, filename, data, allowed, max_bytes):
    """Refuse an empty, too large or wrong-typed upload -> its content type (by content)."""
    if not data:
        raise MasterDataError(field, "the file is empty", "文件为空")
    if len(data) > max_bytes:
        raise MasterDataError(field, "the file is larger than %d KiB" % (max_bytes // 1024),
                              "文件超过 %d KiB" % (max_bytes // 1024))
    ctype = sniff(data)
    if ctype not in allowed:
        kinds = " / ".join(t.split("/")[1].upper() for t in allowed)
        raise MasterDataError(field, "%s is not a %s file (judged by its content, not its name)"
                              % (filename or "the file", kinds),
                              "%s 不是 %s 文件（按文件内容判断，而非文件名）" % (filename or "文件", kinds))
    return ctype


class Uploads:
    """Uploaded bytes put where the loader can read them (a temporary folder, under the
    uploaded file's cleaned name); `with Uploads() as up: up.path(name, data)`."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="onecode-upload-")
        self.n = 0
        return self

    def path(self, filename, data):
        self.n += 1
        folder = os.path.join(self.dir, str(self.n))
        os.mkdir(folder)
        full = os.path.join(folder, download_name(filename, "upload"))
        with open(full, "wb") as f:
            f.write(data)
        return full

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)


def image_entries(images, files_dir):
    """A product's stored `images` as document entries, so an edit keeps them."""
    out = []
    for img in images or []:
        if "url" in img:
            e = {"url": img["url"]}
        else:
            e = {"path": filestore.path_of(files_dir, img["file"])}
        e.update({k: img[k] for k in ("alt_zh", "alt_en") if img.get(k)})
        out.append(e)
    return out


def _plain(value):
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def snapshot(row, extra=None):
    """A row's columns as JSON values (without ids, creation times and secrets)."""
    if row is None:
        return None
    out = {c.key: _plain(getattr(row, c.key)) for c in row.__table__.columns
           if c.key not in ("id", "created") + SECRET_COLUMNS}
    out.update(extra or {})
    return out
