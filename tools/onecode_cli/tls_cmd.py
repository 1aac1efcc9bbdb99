"""`onecode tls make-ca|make-cert`: a private CA and the certificates a site needs for TLS
on the cloud broker and the cloud's HTTPS (docs/tls.md).

Keys are ECDSA P-256 made with the pinned `cryptography` package and written 0600.
Must never overwrite an existing key or certificate (a lost CA key means re-issuing
every certificate), never print a private key, and never make a certificate without a
subjectAltName (TLS clients check the host name against it, not the CN).
"""
import datetime
import ipaddress
import os
import sys

CA_CERT, CA_KEY = "ca.crt", "ca.key"


class TlsError(Exception):
    def __init__(self, en, zh):
        super().__init__("%s / %s" % (en, zh))


def register(sub):
    p = sub.add_parser("tls", help="make a private CA and TLS certificates / 生成私有 CA 与 TLS 证书")
    tsub = p.add_subparsers(dest="tls_command", metavar="ACTION")
    tsub.required = True
    ca = tsub.add_parser("make-ca", help="a new CA: DIR/ca.crt and DIR/ca.key / 新建 CA")
    ca.add_argument("--out", required=True, help="folder for ca.crt and ca.key (created; files never overwritten)")
    ca.add_argument("--name", default="OneCode private CA", help="the CA's common name")
    ca.add_argument("--days", type=int, default=3650, help="validity in days (default 3650)")
    ca.set_defaults(func=_make_ca)
    c = tsub.add_parser("make-cert", help="a certificate signed by the CA / 由 CA 签发证书")
    c.add_argument("name", help="file name and common name: OUT/NAME.crt, OUT/NAME.key")
    c.add_argument("--ca", required=True, help="folder holding ca.crt and ca.key (from make-ca)")
    c.add_argument("--out", required=True, help="folder for NAME.crt and NAME.key")
    c.add_argument("--host", action="append", default=[],
                   help="DNS name or IP address clients connect to (repeat; servers need at least one)")
    c.add_argument("--client", action="store_true", help="a client certificate (clientAuth) instead of a server one")
    c.add_argument("--days", type=int, default=825, help="validity in days (default 825)")
    c.set_defaults(func=_make_cert)


def _write_new(path, data, mode):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise TlsError("%s exists: not overwritten (move it away first)" % path,
                       "%s 已存在，不会覆盖（请先移走）" % path) from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _pem(cert, key):
    from cryptography.hazmat.primitives import serialization
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def _builder(subject, issuer, public_key, days):
    from cryptography import x509
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))   # tolerate a little clock skew
            .not_valid_after(now + datetime.timedelta(days=days)))


def _name(cn):
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OneCode"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(out_dir, name="OneCode private CA", days=3650):
    """Write out_dir/ca.crt and out_dir/ca.key; return their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    if days < 1:
        raise TlsError("--days must be at least 1", "--days 至少为 1")
    os.makedirs(out_dir, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(name)
    cert = (_builder(subject, subject, key.public_key(), days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    cert_pem, key_pem = _pem(cert, key)
    paths = os.path.join(out_dir, CA_CERT), os.path.join(out_dir, CA_KEY)
    for path in paths:
        if os.path.exists(path):
            raise TlsError("%s exists: not overwritten (move it away first)" % path,
                           "%s 已存在，不会覆盖（请先移走）" % path)
    _write_new(paths[1], key_pem, 0o600)
    _write_new(paths[0], cert_pem, 0o644)
    return paths


def _san(host):
    from cryptography import x509
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def make_cert(ca_dir, out_dir, name, hosts=(), client=False, days=825):
    """Write out_dir/NAME.crt (server or client certificate signed by the CA in ca_dir)
    and out_dir/NAME.key; return their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID
    if not name or "/" in name or name.startswith("."):
        raise TlsError("bad certificate name %r" % name, "证书名称无效：%r" % name)
    if not client and not hosts:
        raise TlsError("a server certificate needs --host (the name or IP clients connect to)",
                       "服务器证书需要 --host（客户端连接所用的主机名或 IP）")
    if days < 1:
        raise TlsError("--days must be at least 1", "--days 至少为 1")
    try:
        with open(os.path.join(ca_dir, CA_CERT), "rb") as f:
            ca_cert = x509.load_pem_x509_certificate(f.read())
        with open(os.path.join(ca_dir, CA_KEY), "rb") as f:
            ca_key = serialization.load_pem_private_key(f.read(), None)
    except (OSError, ValueError) as exc:
        raise TlsError("cannot read the CA in %s: %s" % (ca_dir, exc), "无法读取 %s 中的 CA：%s" % (ca_dir, exc)) \
            from None
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    b = (_builder(_name(name), ca_cert.subject, key.public_key(), days)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                      crl_sign=False, content_commitment=False, data_encipherment=False,
                                      key_agreement=True, encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if hosts:
        b = b.add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
    cert = b.sign(ca_key, hashes.SHA256())
    cert_pem, key_pem = _pem(cert, key)
    os.makedirs(out_dir, exist_ok=True)
    paths = os.path.join(out_dir, name + ".crt"), os.path.join(out_dir, name + ".key")
    for path in paths:
        if os.path.exists(path):
            raise TlsError("%s exists: not overwritten (move it away first)" % path,
                           "%s 已存在，不会覆盖（请先移走）" % path)
    _write_new(paths[1], key_pem, 0o600)
    _write_new(paths[0], cert_pem, 0o644)
    return paths


def _make_ca(args):
    try:
        crt, key = make_ca(args.out, args.name, args.days)
    except TlsError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    print("CA certificate %s (give it to every client) and key %s (keep it offline, mode 0600) / "
          "CA 证书已写入 %s（分发给客户端），私钥 %s（离线保存）" % (crt, key, crt, key))
    return 0


def _make_cert(args):
    try:
        crt, key = make_cert(args.ca, args.out, args.name, args.host, args.client, args.days)
    except TlsError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    print("certificate %s and key %s (mode 0600) / 证书 %s，私钥 %s" % (crt, key, crt, key))
    return 0
