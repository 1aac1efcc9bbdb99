"""`onecode nfc verify URL`: check an NTAG 424 DNA tap link (SUN message) by hand.

For technicians provisioning or diagnosing a tag: give the tag's SDMMetaReadKey and
SDMFileReadKey (`--meta-key K --file-key K`, 32 hex digits each), or the cloud's
master key (`--master-key K`) to derive them as the cloud does. Prints one JSON
object `{"valid", "uid", "counter", "file_data", "reason"}`; exits 0 when the link
verifies, 1 when it does not, 2 on bad arguments. Keys may be all-zero here (factory
keys, AN12196 vectors): this checks a link, it accepts nothing into the cloud. Keys
are read from the command line or, safer, from the environment variables named by
`--*-key-env`. Must never print a key, and never hold SUN logic: that is cloud.sun.
"""
import json
import os
import sys
import urllib.parse


def register(sub):
    p = sub.add_parser("nfc", help="NFC tags (NTAG 424 DNA) / NFC 标签")
    nsub = p.add_subparsers(dest="nfc_command", metavar="COMMAND")
    nsub.required = True
    v = nsub.add_parser("verify", help="verify a tap link (SUN message) / 验证一次轻触生成的链接",
                        description="Verify the SUN parameters (picc_data/enc/cmac, e/c or uid/ctr/cmac) "
                                    "of a tap URL and print JSON. / 验证链接中的 SUN 参数并输出 JSON。")
    v.add_argument("url", metavar="URL", help="the URL the tag wrote, or just its query string")
    v.add_argument("--meta-key", help="SDMMetaReadKey, 32 hex digits")
    v.add_argument("--file-key", help="SDMFileReadKey, 32 hex digits")
    v.add_argument("--master-key", help="the cloud's master key (32 or 64 hex digits): derive both keys")
    for name in ("meta", "file", "master"):
        v.add_argument("--%s-key-env" % name, metavar="VAR", help="read the %s key from this environment "
                       "variable instead (keeps it out of the shell history)" % name)
    v.set_defaults(func=_verify)


def _key(args, name):
    env = getattr(args, "%s_key_env" % name)
    text = os.environ.get(env) if env else getattr(args, "%s_key" % name)
    if text is None:
        return None
    text = text.strip()
    if env and not text:
        raise ValueError("environment variable %s is empty / 环境变量 %s 为空" % (env, env))
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError("--%s-key must be hex / 密钥须为十六进制" % name) from None


def _keys(args):
    from cloud import sun
    master, meta, file_ = (_key(args, n) for n in ("master", "meta", "file"))
    if master is not None:
        if meta is not None or file_ is not None:
            raise ValueError("give --master-key, or --meta-key and --file-key, not both / 二选一")
        if len(master) not in (16, 32):
            raise ValueError("--master-key must be 16 or 32 bytes / 主密钥须为 16 或 32 字节")
        return sun.MasterKeys(master, allow_test_keys=True)
    if meta is None or file_ is None:
        raise ValueError("--meta-key and --file-key are needed (or --master-key) / 需要提供两个密钥")
    if len(meta) != 16 or len(file_) != 16:
        raise ValueError("--meta-key and --file-key must be 16 bytes (32 hex digits) / 密钥须为 16 字节")
    return sun.StaticKeys(meta, file_, allow_test_keys=True)


def _verify(args):
    from cloud import sun
    try:
        keys = _keys(args)
    except ValueError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    url = args.url.strip()
    query = urllib.parse.urlsplit(url).query if "?" in url or "://" in url else url.lstrip("?")
    params = {}
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        params.setdefault(k, []).append(v)
    res = sun.verify_args(_Args(params), keys)
    fd = res.file_data
    out = {"valid": res.valid, "uid": res.uid, "counter": res.counter,
           "file_data": fd.hex().upper() if fd is not None else None, "reason": res.reason}
    if fd is not None and all(32 <= b < 127 for b in fd):
        out["file_text"] = fd.decode("ascii")
    print(json.dumps(out, ensure_ascii=False))
    return 0 if res.valid else 1


class _Args:
    """The query parameters as cloud.sun reads them (get + getlist, repeats kept)."""

    def __init__(self, params):
        self.params = params

    def get(self, name, default=None):
        values = self.params.get(name)
        return values[0] if values else default

    def getlist(self, name):
        return list(self.params.get(name, []))
