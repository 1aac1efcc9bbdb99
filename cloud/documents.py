"""Stored batch documents (QC reports, certificates) and product images, served to
the public by sha256 at `/doc/{sha256}` (cloud.filestore keeps the bytes).

Only files a master-data document row names, of a public kind, are served; the path
on disk is derived from the digest, never from the request or the row. PDFs and
raster images are shown inline with their own type; anything else (HTML, SVG,
unknown) is an `application/octet-stream` attachment, so no stored file can run
script in our origin. Content-addressed, so cacheable for a year. Must never serve a
file outside FILES_DIR or list what is stored.
"""
import os
import re

from flask import Blueprint, abort, current_app, send_file
from sqlalchemy import select

from cloud import filestore
from cloud.db import get_db
from cloud.master import Document

bp = Blueprint("documents", __name__)

PUBLIC_KINDS = ("qc_report", "certificate", "product_image")
INLINE_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp")
DOC_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; object-src 'self'; frame-ancestors 'none'"
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\\"]")


def download_name(filename, sha256):
    name = _UNSAFE_NAME.sub("_", os.path.basename(filename or "")).strip(". ")[:120]
    return name or sha256[:16]


@bp.route("/doc/<sha256>", methods=["GET", "HEAD"])
def document(sha256):
    if not _SHA256.match(sha256):
        abort(404)
    with get_db(current_app).Session() as s:
        row = s.execute(select(Document.filename, Document.content_type)
                        .where(Document.sha256 == sha256, Document.kind.in_(PUBLIC_KINDS))
                        .order_by(Document.id).limit(1)).first()
    if row is None:
        abort(404)
    path = filestore.path_of(current_app.config["FILES_DIR"], filestore.storage_path(sha256))
    if not os.path.isfile(path):
        current_app.logger.error("document %s is in the database but not in FILES_DIR", sha256)
        abort(404)
    ctype = (row.content_type or "").split(";")[0].strip().lower()
    inline = ctype in INLINE_TYPES
    resp = send_file(path, mimetype=ctype if inline else "application/octet-stream", as_attachment=not inline,
                     download_name=download_name(row.filename, sha256), conditional=True, etag=sha256,
                     max_age=365 * 86400)
    resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    resp.headers["Content-Security-Policy"] = DOC_CSP
    return resp
