"""`onecode provision DEVICE ...` / `onecode provision DEVICE --revoke`: a device's
identity in the broker, the gateway registry, the cloud and its own files
(tools/onecode_cli/provisioning.py, docs/provisioning.md).

`onecode provision-cloud gateway|bridge|ingest ...`: an identity on the cloud broker
(password file + ACL block; docs/security.md, "Cloud broker identities"). The password
is printed once, here, and stored nowhere in clear."""
import os
import sys


def register(sub):
    p = sub.add_parser(
        "provision", help="create (or revoke) a device identity everywhere / 开通或注销设备",
        description="Creates a device's identity (MQTT user and password, site, role, door, read point, board) "
        "and writes it to the site broker's password and ACL files, the gateway's device registry, the cloud's "
        "device table and the device's config files. Safe to re-run; --revoke removes the device everywhere. "
        "开通设备：写入代理密码/ACL、网关设备登记、云端设备表和设备配置；可重复执行；--revoke 全部注销。")
    p.add_argument("device", help="device id = its MQTT username (A-Z a-z 0-9 _ -, up to 64)")
    p.add_argument("--site", required=True, help="site id")
    p.add_argument("--role", choices=("portal", "handheld"), help="device role (needed unless --revoke)")
    p.add_argument("--door", help="dock door the portal watches (portals)")
    p.add_argument("--read-point", help="read point SGLN URN (urn:epc:id:sgln:...)")
    p.add_argument("--biz-location", help="business location SGLN URN")
    p.add_argument("--lang", choices=("zh-CN", "en"), help="device display language")
    p.add_argument("--board", help="board definition (onecode hardware list); default per role")
    p.add_argument("--passwd", required=True, help="the site broker's password file (mosquitto password_file)")
    p.add_argument("--acl", required=True, help="the site broker's ACL file (mosquitto acl_file)")
    p.add_argument("--registry", help="the gateway's device registry file (gateway.json \"registry\")")
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                   help="the cloud database (default $DATABASE_URL; none: the cloud is skipped)")
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="the site broker as the device reaches it")
    p.add_argument("--out", default="var/devices", help="where device files go: OUT/DEVICE/config.json, board.json")
    p.add_argument("--broker-pid", help="pid of the site broker: sent SIGHUP so it re-reads its files")
    p.add_argument("--rotate", action="store_true", help="give the device a new password")
    p.add_argument("--wifi-ssid", help="the site Wi-Fi the device joins (kept in its config.json, mode 0600)")
    p.add_argument("--wifi-password", help="that Wi-Fi's password")
    p.add_argument("--revoke", action="store_true", help="remove the device everywhere / 全部注销")
    p.set_defaults(func=_run)
    c = sub.add_parser(
        "provision-cloud", help="create (or revoke) a gateway, site bridge or ingest user on the cloud broker / "
        "开通或注销云端代理用户",
        description="Writes one user to the cloud broker's password file and its ACL block: a gateway may publish "
        "only its own batch and status and read only its own ack and error; a site bridge the same for every "
        "gateway of its site; the ingest user (one for all workers) reads every batch and status and writes acks "
        "and errors. A new password is printed once. 在云端代理的密码文件和 ACL 中写入一个用户：网关只能发布自己的批次和状态、"
        "只能读取自己的确认和错误；站点桥接同理（本站点全部网关）；入库用户（全部 worker 共用）读取所有批次和状态、写确认和错误。"
        "新密码只显示一次。")
    c.add_argument("kind", choices=("gateway", "bridge", "ingest"), help="whose identity / 身份类型")
    c.add_argument("--site", help="site id (gateway, bridge)")
    c.add_argument("--gw", help="gateway id, gateway_id in gateway.json (gateway)")
    c.add_argument("--passwd", required=True, help="the cloud broker's password file (mosquitto password_file)")
    c.add_argument("--acl", required=True, help="the cloud broker's ACL file (mosquitto acl_file)")
    c.add_argument("--broker-pid", help="pid of the cloud broker: sent SIGHUP so it re-reads its files")
    c.add_argument("--rotate", action="store_true", help="a new password for an existing user")
    c.add_argument("--revoke", action="store_true", help="remove the user from both files / 注销")
    c.set_defaults(func=_run_cloud)


# where the printed password goes (cloud/deploy/mosquitto-cloud.conf: 8883 gateways and bridges, 8884 workers)
_USE = {
    "gateway": ('gateway.json: "cloud_broker": "mqtts://{user}:{pw}@CLOUD-BROKER:8883?ca=/etc/onecode/tls/ca.crt"',
                '网关 gateway.json 的 "cloud_broker" 同上'),
    "bridge": ("mosquitto-bridge.conf: remote_username {user} / remote_password {pw}",
               "站点 mosquitto-bridge.conf 的 remote_username / remote_password 同上"),
    "ingest": ("/etc/onecode/cloud.env: ONECODE_CLOUD_BROKER=mqtts://{user}:{pw}@CLOUD-BROKER-PRIVATE:8884"
               "?ca=/etc/onecode/tls/ca.crt", "入库 worker 的 /etc/onecode/cloud.env 中 ONECODE_CLOUD_BROKER 同上"),
}


def _run(args):
    from onecode_cli.provisioning import ProvisionError, Provisioner

    def say(en, zh):
        print("  %s\n  %s" % (en, zh))
    try:
        prov = Provisioner(args.site, args.passwd, args.acl, registry=args.registry,
                           database_url=args.database_url, out_dir=args.out, broker=args.broker,
                           broker_pid=args.broker_pid, say=say)
        if args.revoke:
            print("revoking %s at site %s / 注销 %s（站点 %s）" % (args.device, args.site, args.device, args.site))
            prov.revoke(args.device)
            print("revoked / 已注销")
            return 0
        if not args.role:
            raise ProvisionError("--role is needed (portal or handheld)", "需要 --role（portal 或 handheld）")
        print("provisioning %s at site %s / 开通 %s（站点 %s）" % (args.device, args.site, args.device, args.site))
        if bool(args.wifi_ssid) != bool(args.wifi_password):
            raise ProvisionError("give both --wifi-ssid and --wifi-password", "须同时给出 --wifi-ssid 和 --wifi-password")
        wifi = (args.wifi_ssid, args.wifi_password) if args.wifi_ssid else None
        prov.provision(args.device, args.role, door=args.door, read_point=args.read_point,
                       biz_location=args.biz_location, lang=args.lang, board=args.board, rotate=args.rotate,
                       wifi=wifi)
        print("provisioned / 已开通")
        return 0
    except ProvisionError as exc:
        print("error: %s\n错误：%s" % (exc.en, exc.zh), file=sys.stderr)
        return 2


def _run_cloud(args):
    from onecode_cli.provisioning import CloudIdentities, ProvisionError

    def say(en, zh):
        print("  %s\n  %s" % (en, zh))
    ids = CloudIdentities(args.passwd, args.acl, broker_pid=args.broker_pid, say=say)
    try:
        if args.revoke:
            user = ids.check(args.kind, args.site, args.gw)
            print("revoking %s on the cloud broker / 注销云端代理用户 %s" % (user, user))
            ids.revoke(args.kind, args.site, args.gw)
            print("revoked / 已注销")
            return 0
        user = ids.check(args.kind, args.site, args.gw)
        print("cloud broker user %s / 云端代理用户 %s" % (user, user))
        user, password = ids.provision(args.kind, args.site, args.gw, rotate=args.rotate)
    except ProvisionError as exc:
        print("error: %s\n错误：%s" % (exc.en, exc.zh), file=sys.stderr)
        return 2
    if password:
        en, zh = _USE[args.kind]
        print("password (shown only now; the broker keeps only its hash) / 密码（仅此一次显示，代理只保存其散列）:")
        print("  %s" % password)
        print("  " + en.format(user=user, pw=password))
        print("  " + zh)
    print("done / 完成")
    return 0
