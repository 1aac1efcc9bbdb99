"""Device provisioning: one identity, written everywhere it must be, and removed from
everywhere on revoke (`onecode provision`, docs/provisioning.md).

A device's identity is its id (its MQTT username), a random MQTT password, its site,
role, door, read point and board. Provisioning writes it to:

1. the site broker's password file (`mosquitto_passwd -b`: the hash, never the
   password), and makes sure the ACL file has the site's per-device patterns (each
   device may publish only its own batch/status/heartbeat topics and read only its own
   topics: gateway/deploy/mosquitto-site.acl);
2. the gateway's device registry (gateway.registry);
3. the cloud's device table (cloud master data), when a database is given;
4. the device's own files: `config.json` (site, id, role, MQTT URL and credentials;
   mode 0600) and `board.json` (its board definition), which `onecode flash`
   installs.

Re-running is safe: the same password is kept (from the device's config.json) unless
asked to rotate, and every store is an upsert. Revoking removes the device from the
password file, the registry, the cloud and its files; the broker refuses it once it
has re-read its files (SIGHUP, done here when the broker's pid is given).

The cloud broker's identities (`onecode provision-cloud`, CloudIdentities below): one
user per gateway that may publish only its own batch and status and read only its own
ack and error, one per site bridge (the same for every gateway of its site), and one
user shared by all ingest workers (every site's batches and status; writes acks and
errors). Generated ACL blocks are marked and replaced whole; hand-written lines are
never touched. Passwords are printed once and never stored in clear.
"""
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACL_TEMPLATE = ROOT / "gateway" / "deploy" / "mosquitto-site.acl"
GATEWAY_USER = "onecode-gateway"
SITE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEFAULT_BOARDS = {"portal": "portal-s3-m6e-micro", "handheld": "handheld-esp32"}


class ProvisionError(Exception):
    """Bad input or a store that refused: `en` and `zh` say which and why."""

    def __init__(self, en, zh):
        Exception.__init__(self, en)
        self.en, self.zh = en, zh


def device_patterns(site):
    """The ACL lines that give every device its own topics at `site` (and only those)."""
    return ["pattern write onecode/%s/dev/%%u/batch" % site,
            "pattern write onecode/%s/dev/%%u/status" % site,
            "pattern write onecode/%s/dev/%%u/hb" % site,
            "pattern read onecode/%s/dev/%%u/#" % site]


def _passwd_tool():
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise ProvisionError("mosquitto_passwd is not installed (it comes with the mosquitto package)",
                             "未安装 mosquitto_passwd（随 mosquitto 软件包提供）")
    return tool


def passwd_users(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [line.split(":", 1)[0] for line in f if ":" in line]
    except FileNotFoundError:
        return []


def set_password(path, user, password):
    tool = _passwd_tool()
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    out = subprocess.run([tool, "-b", str(path), user, password], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise ProvisionError("mosquitto_passwd refused %s: %s" % (path, out.stderr.strip() or out.stdout.strip()),
                             "mosquitto_passwd 无法写入 %s：%s" % (path, out.stderr.strip() or out.stdout.strip()))


def delete_password(path, user):
    if user not in passwd_users(path):
        return False
    out = subprocess.run([_passwd_tool(), "-D", str(path), user], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise ProvisionError("mosquitto_passwd could not remove %s from %s: %s" % (user, path, out.stderr.strip()),
                             "mosquitto_passwd 无法从 %s 删除 %s：%s" % (path, user, out.stderr.strip()))
    return True


def ensure_acl(path, site):
    """Write the shipped site ACL for `site` if the file is missing; else add the
    site's device patterns if any is missing. Returns what was done."""
    if not os.path.exists(path):
        text = ACL_TEMPLATE.read_text(encoding="utf-8").replace("site-1", site)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return "written"
    with open(path, encoding="utf-8") as f:
        lines = [ln.strip() for ln in f]
    missing = [p for p in device_patterns(site) if p not in lines]
    if not missing:
        return "present"
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n# devices of site %s (added by onecode provision)\n" % site)
        for p in missing:
            f.write(p + "\n")
    return "added"


def _cloud_session(database_url):
    from sqlalchemy.orm import sessionmaker

    from cloud.db import make_engine
    return sessionmaker(make_engine(database_url), expire_on_commit=False)


def cloud_upsert(database_url, entry):
    from sqlalchemy.exc import SQLAlchemyError

    from cloud import masterdata
    from cloud.masterdata_check import MasterDataError
    try:
        masterdata.load(_cloud_session(database_url), {"devices": [entry]})
    except MasterDataError as exc:
        raise ProvisionError("the cloud refused the device: %s" % exc, "云端拒绝该设备：%s" % exc.bilingual()) from None
    except SQLAlchemyError as exc:
        detail = str(exc).splitlines()[0]
        raise ProvisionError("the cloud database refused the device (is it migrated?): %s" % detail,
                             "云端数据库拒绝写入（是否已迁移？）：%s" % detail) from None


def cloud_delete(database_url, site, dev):
    from sqlalchemy import delete

    from cloud.master import Device
    Session = _cloud_session(database_url)
    with Session() as s, s.begin():
        return s.execute(delete(Device).where(Device.site == site, Device.device_id == dev)).rowcount > 0


def broker_url_for(broker, dev, password):
    # mqtt:// only: the device firmware (onecode.mqtt_link) speaks no TLS, so an mqtts://
    # URL here would give a device a config it refuses at boot (docs/security-transport.md)
    m = re.match(r"^(mqtt)://(?:[^@/]*@)?([^/:]+)(?::(\d+))?/?$", broker or "")
    if not m:
        raise ProvisionError("--broker must look like mqtt://host:port (devices speak no TLS), not %r" % broker,
                             "--broker 应形如 mqtt://主机:端口（设备不支持 TLS），而非 %r" % broker)
    port = ":" + m.group(3) if m.group(3) else ""
    return "%s://%s:%s@%s%s" % (m.group(1), dev, password, m.group(2), port)


def reload_broker(pid):
    """Make Mosquitto re-read its password and ACL files (SIGHUP)."""
    try:
        os.kill(int(pid), signal.SIGHUP)
    except (ValueError, ProcessLookupError, PermissionError) as exc:
        raise ProvisionError("cannot signal the broker (pid %r): %s" % (pid, exc),
                             "无法通知代理重新加载（pid %r）：%s" % (pid, exc)) from None


def reload_or_say(pid, say):
    """SIGHUP the broker when its pid is known, else tell the operator to reload it."""
    if pid:
        reload_broker(pid)
        say("broker (pid %s) told to re-read its files" % pid, "已通知代理（pid %s）重新读取文件" % pid)
    else:
        say("make the broker re-read its files: systemctl reload mosquitto (or kill -HUP its pid)",
            "请让代理重新读取文件：systemctl reload mosquitto（或 kill -HUP 其进程号）")


class Provisioner:
    """The stores of one site. Each step reports through `say(en, zh)`."""

    def __init__(self, site, passwd, acl, registry=None, database_url=None, out_dir="devices",
                 broker="mqtt://127.0.0.1:1883", broker_pid=None, say=None):
        if not SITE.match(site or ""):
            raise ProvisionError("site %r must be 1-64 characters of A-Z a-z 0-9 _ -" % (site,),
                                 "站点 %r 须为 1–64 个字母、数字、_ 或 -" % (site,))
        self.site, self.passwd, self.acl = site, str(passwd), str(acl)
        self.registry_path, self.database_url = registry, database_url
        self.out_dir = Path(out_dir)
        self.broker, self.broker_pid = broker, broker_pid
        self.say = say or (lambda en, zh: None)

    def _check_dev(self, dev, entry):
        from gateway.registry import RegistryError, check_entry
        if dev == GATEWAY_USER:
            raise ProvisionError("%s is the gateway's own broker user" % dev, "%s 是网关自己的代理用户" % dev)
        try:
            check_entry(dev, entry)
        except RegistryError as exc:
            raise ProvisionError(exc.en, exc.zh) from None

    def _board(self, name, role):
        from onecode_cli import hardware_cmd
        try:
            _path, defn = hardware_cmd._read(name)
        except ValueError as exc:
            en, zh = exc.args[0]
            raise ProvisionError(en, zh) from None
        problems = hardware_cmd.problems(defn)
        if problems:
            raise ProvisionError("board %s has problems: %s" % (name, problems[0][0]),
                                 "板级定义 %s 有问题：%s" % (name, problems[0][1]))
        if defn["role"] != role:
            raise ProvisionError("board %s is a %s board, not a %s" % (name, defn["role"], role),
                                 "板级定义 %s 用于 %s，而不是 %s" % (name, defn["role"], role))
        return defn

    def provision(self, dev, role, door=None, read_point=None, biz_location=None, lang=None, board=None,
                  rotate=False, wifi=None):
        entry = {"role": role}
        for k, v in (("door", door), ("read_point", read_point), ("biz_location", biz_location), ("lang", lang)):
            if v is not None:
                entry[k] = v
        self._check_dev(dev, entry)
        if role == "portal" and not door:
            raise ProvisionError("a portal needs --door (the dock door it watches)", "月台门读取站需要 --door（所在月台门）")
        defn = self._board(board or DEFAULT_BOARDS[role], role)
        broker_url_for(self.broker, dev, "")    # a bad --broker is refused before any store is written
        folder = self.out_dir / dev
        cfg_path = folder / "config.json"
        old = None
        if cfg_path.exists():
            try:
                old = json.loads(cfg_path.read_text(encoding="utf-8"))
            except ValueError:
                old = None
            if old and old.get("site") not in (None, self.site):
                raise ProvisionError("%s is already provisioned at site %s; revoke it there first" % (dev, old["site"]),
                                     "%s 已在站点 %s 开通；请先在那里注销" % (dev, old["site"]))
        password = None if rotate or not old else old.get("mqtt", {}).get("password")
        fresh = password is None
        password = password or secrets.token_urlsafe(24)
        # 1. broker: password (hashed by mosquitto_passwd) and the per-device ACL patterns
        set_password(self.passwd, dev, password)
        self.say("broker password file %s: %s %s" % (self.passwd, dev, "new password" if fresh else "password kept"),
                 "代理密码文件 %s：%s %s" % (self.passwd, dev, "新密码" if fresh else "沿用原密码"))
        done = ensure_acl(self.acl, self.site)
        self.say("broker ACL %s: site %s device topics %s" % (self.acl, self.site, done),
                 "代理 ACL %s：站点 %s 的设备主题 %s" % (self.acl, self.site,
                                                   {"written": "已写入", "present": "已存在", "added": "已补充"}[done]))
        # 2. gateway registry
        if self.registry_path:
            from gateway.registry import Registry
            reg = Registry(self.registry_path)
            try:
                reg.upsert(dev, entry)
            finally:
                reg.close()
            self.say("gateway registry %s: %s" % (self.registry_path, dev), "网关设备登记 %s：%s" % (self.registry_path, dev))
        # 3. cloud
        if self.database_url:
            cloud_entry = {"id": dev, "site": self.site, "role": role}
            for k in ("door", "read_point", "biz_location"):
                if entry.get(k):
                    cloud_entry[k] = entry[k]
            cloud_upsert(self.database_url, cloud_entry)
            self.say("cloud device table: %s" % dev, "云端设备表：%s" % dev)
        # 4. the device's own files
        folder.mkdir(parents=True, exist_ok=True)
        config = {"v": 1, "site": self.site, "dev": dev, "role": role, "board": defn["board"],
                  "mqtt": {"url": broker_url_for(self.broker, dev, password), "user": dev, "password": password}}
        for k in ("door", "read_point", "lang"):
            if entry.get(k):
                config[k] = entry[k]
        if wifi is not None:
            config["wifi"] = {"ssid": wifi[0], "password": wifi[1]}
        elif old and old.get("wifi"):
            config["wifi"] = old["wifi"]
        tmp = folder / "config.json.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=1, ensure_ascii=False, sort_keys=True)
        os.replace(tmp, cfg_path)
        (folder / "board.json").write_text(json.dumps(defn, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        self.say("device files %s (config.json mode 0600, board.json)" % folder,
                 "设备文件 %s（config.json 权限 0600，board.json）" % folder)
        self._reload()
        return config

    def revoke(self, dev):
        self._check_dev(dev, {})
        found = []
        if delete_password(self.passwd, dev):
            found.append("broker")
            self.say("broker password file %s: %s removed" % (self.passwd, dev),
                     "代理密码文件 %s：已删除 %s" % (self.passwd, dev))
        if self.registry_path:
            from gateway.registry import Registry
            reg = Registry(self.registry_path)
            try:
                if reg.get(dev) is not None:
                    reg.remove(dev)
                    found.append("registry")
                    self.say("gateway registry: %s removed" % dev, "网关设备登记：已删除 %s" % dev)
            finally:
                reg.close()
        if self.database_url and cloud_delete(self.database_url, self.site, dev):
            found.append("cloud")
            self.say("cloud device table: %s removed" % dev, "云端设备表：已删除 %s" % dev)
        folder = self.out_dir / dev
        if folder.exists():
            shutil.rmtree(folder)
            found.append("files")
            self.say("device files %s removed" % folder, "设备文件 %s 已删除" % folder)
        if not found:
            raise ProvisionError("%s is not provisioned at site %s (nothing to revoke)" % (dev, self.site),
                                 "%s 未在站点 %s 开通（无可注销）" % (dev, self.site))
        self._reload()
        return found

    def _reload(self):
        reload_or_say(self.broker_pid, self.say)


# --- the cloud broker: one identity per gateway, per site bridge, one for the ingest workers ---

CLOUD_ACL_TEMPLATE = ROOT / "cloud" / "deploy" / "mosquitto-cloud.acl"
INGEST_USER = "onecode-ingest"
BRIDGE_STATE = "onecode/cloud/{site}/bridge/state"   # notification_topic of gateway/deploy/mosquitto-bridge.conf
CLOUD_KINDS = ("gateway", "bridge", "ingest")


def cloud_user(kind, site=None, gw=None):
    """The cloud broker username. '.' is not allowed in ids, so SITE.GW is unambiguous
    (site a-b/gw c and site a/gw b-c differ) and URL-safe; '+', '#', '/' never appear."""
    return {"gateway": "gw.%s.%s" % (site, gw), "bridge": "onecode-bridge-%s" % site, "ingest": INGEST_USER}[kind]


def cloud_acl_lines(kind, site=None, gw=None):
    """What one cloud identity may publish and read (topics from onecode.wire)."""
    from onecode import wire
    if kind == "ingest":      # every site and gateway; CLOUD_BATCH_SUB is what the $share/ subscription names
        return ["topic read " + wire.CLOUD_BATCH_SUB, "topic read " + wire.CLOUD_STATUS_SUB,
                "topic write " + wire.CLOUD_ACK.format(site="+", gw="+"),
                "topic write " + wire.CLOUD_ERROR.format(site="+", gw="+")]
    gw = gw if kind == "gateway" else "+"     # a bridge carries every gateway of its site
    lines = ["topic write " + wire.CLOUD_BATCH.format(site=site, gw=gw),
             "topic write " + wire.CLOUD_STATUS.format(site=site, gw=gw),
             "topic read " + wire.CLOUD_ACK.format(site=site, gw=gw),
             "topic read " + wire.CLOUD_ERROR.format(site=site, gw=gw)]
    if kind == "bridge":
        lines.append("topic write " + BRIDGE_STATE.format(site=site))
    return lines


def _acl_blocks(text, user):
    """(the lines outside user's generated block, whether the block was there, whether a
    `user` line for it stands outside the block: hand-written, which we do not touch)."""
    begin, end = "# >>> onecode provision-cloud %s" % user, "# <<< onecode provision-cloud %s" % user
    kept, inside, found, foreign = [], False, False, False
    for line in text.splitlines():
        if line.strip() == begin:
            inside = found = True
            while kept and not kept[-1].strip():   # the blank line we put before the block
                kept.pop()
        elif line.strip() == end and inside:
            inside = False
        elif not inside:
            kept.append(line)
            foreign = foreign or line.split() == ["user", user]
    return kept, found, foreign


class CloudIdentities:
    """The cloud broker's password and ACL files. Each step reports through `say(en, zh)`."""

    def __init__(self, passwd, acl, broker_pid=None, say=None):
        self.passwd, self.acl, self.broker_pid = str(passwd), str(acl), broker_pid
        self.say = say or (lambda en, zh: None)

    @staticmethod
    def check(kind, site=None, gw=None):
        if kind not in CLOUD_KINDS:
            raise ProvisionError("unknown kind %r: gateway, bridge or ingest" % (kind,),
                                 "未知类型 %r：应为 gateway、bridge 或 ingest" % (kind,))
        for flag, name, value, zh, needed in (("--site", "site", site, "站点", kind != "ingest"),
                                              ("--gw", "gateway id", gw, "网关号", kind == "gateway")):
            if needed and not value:
                raise ProvisionError("the %s identity needs %s" % (kind, flag), "%s 身份需要 %s" % (kind, flag))
            if needed and not SITE.match(value):
                raise ProvisionError("%s %r must be 1-64 characters of A-Z a-z 0-9 _ -" % (name, value),
                                     "%s %r 须为 1–64 个字母、数字、_ 或 -" % (zh, value))
            if not needed and value:
                raise ProvisionError("the %s identity takes no %s" % (kind, flag), "%s 身份不接受 %s" % (kind, flag))
        return cloud_user(kind, site, gw)

    def _read_acl(self, user):
        try:
            with open(self.acl, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            text = CLOUD_ACL_TEMPLATE.read_text(encoding="utf-8")
        kept, found, foreign = _acl_blocks(text, user)
        if foreign:
            raise ProvisionError("%s has a hand-written `user %s` block; remove it first" % (self.acl, user),
                                 "%s 中已有手写的 `user %s`；请先删除" % (self.acl, user))
        return kept, found

    def _write_acl(self, lines):
        # in place, not replaced: the file keeps its owner and mode (group mosquitto, 0640)
        fd = os.open(self.acl, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines).rstrip("\n") + "\n")

    def provision(self, kind, site=None, gw=None, rotate=False):
        """-> (user, the new password or None when the existing one is kept)."""
        user = self.check(kind, site, gw)
        kept, _found = self._read_acl(user)
        password = None
        if rotate or user not in passwd_users(self.passwd):
            password = secrets.token_urlsafe(24)
            set_password(self.passwd, user, password)
        self.say("cloud broker password file %s: %s %s" % (self.passwd, user, "new password" if password else
                                                           "password kept (--rotate for a new one)"),
                 "云端代理密码文件 %s：%s %s" % (self.passwd, user, "新密码" if password else "沿用原密码（--rotate 换新）"))
        block = ["", "# >>> onecode provision-cloud %s" % user, "user " + user] + cloud_acl_lines(kind, site, gw) + [
            "# <<< onecode provision-cloud %s" % user]
        self._write_acl(kept + block)
        self.say("cloud broker ACL %s: %s may use only %s" % (self.acl, user, ", ".join(
            ln.split(" ", 1)[1] for ln in block[3:-1])), "云端代理 ACL %s：%s 只能使用上述主题" % (self.acl, user))
        self._reload()
        return user, password

    def revoke(self, kind, site=None, gw=None):
        user = self.check(kind, site, gw)
        kept, found = self._read_acl(user) if os.path.exists(self.acl) else ([], False)
        removed = delete_password(self.passwd, user)
        if found:
            self._write_acl(kept)
        if not (removed or found):
            raise ProvisionError("%s is not on the cloud broker (nothing to revoke)" % user,
                                 "%s 不在云端代理上（无可注销）" % user)
        self.say("cloud broker: %s removed from %s" % (user, ", ".join(
            p for p, done in ((self.passwd, removed), (self.acl, found)) if done)),
            "云端代理：已从 %s 删除 %s" % ("、".join(p for p, done in ((self.passwd, removed), (self.acl, found)) if done),
                                       user))
        self._reload()
        return user

    def _reload(self):
        reload_or_say(self.broker_pid, self.say)
