"""`onecode gateway run` / `python -m gateway`: argument parsing and process setup.
Must never contain gateway logic (that is gateway.service)."""
import argparse
import asyncio
import logging
import signal
import sys

from gateway import config


def add_arguments(p):
    p.add_argument("--config", metavar="FILE", help="JSON config file (keys as in gateway/README.md)")
    p.add_argument("--site", help="site id (default %s; env ONECODE_GW_SITE)" % config.DEFAULTS["site"])
    p.add_argument("--gateway-id", help="gateway id (default %s)" % config.DEFAULTS["gateway_id"])
    p.add_argument("--site-broker", metavar="URL", help="site MQTT broker (default %s)" % config.DEFAULTS["site_broker"])
    p.add_argument("--cloud-broker", metavar="URL", help="cloud MQTT broker (default %s)" % config.DEFAULTS["cloud_broker"])
    p.add_argument("--outbox", metavar="FILE", help="outbox SQLite file (default %s)" % config.DEFAULTS["outbox"])
    p.add_argument("--outbox-full-policy", choices=config.POLICIES,
                   help="at the outbox's bounds: hold (devices keep their records) or drop_oldest "
                        "(default %s)" % config.DEFAULTS["outbox_full_policy"])
    p.add_argument("--outbox-max-events", type=int, metavar="N",
                   help="events waiting in the outbox (default %d)" % config.DEFAULTS["outbox_max_events"])
    p.add_argument("--outbox-max-bytes", type=int, metavar="BYTES",
                   help="outbox database pages in use (default %d)" % config.DEFAULTS["outbox_max_bytes"])
    p.add_argument("--outbox-max-age-s", type=float, metavar="S",
                   help="age of the oldest waiting event; 0 = no limit (default %d)"
                        % config.DEFAULTS["outbox_max_age_s"])
    p.add_argument("--shutdown-wait-s", type=float, metavar="S",
                   help="on SIGTERM, wait this long for acks in flight (default %g)"
                        % config.DEFAULTS["shutdown_wait_s"])
    p.add_argument("--http-listen", metavar="HOST:PORT",
                   help="status page and API address, or off (default %s; env ONECODE_GW_HTTP_LISTEN). The "
                        "technician API needs api_token (env ONECODE_GW_API_TOKEN)" % config.DEFAULTS["http_listen"])
    p.add_argument("--workers", metavar="N",
                   help="worker processes preparing device batches, or auto (default %s)" % config.DEFAULTS["workers"])
    p.add_argument("--log-level", default="INFO")


def run(args):
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s gateway %(levelname)s %(message)s")
    try:
        cfg = config.load(args.config, overrides={
            "site": args.site, "gateway_id": args.gateway_id, "site_broker": args.site_broker,
            "cloud_broker": args.cloud_broker, "outbox": args.outbox,
            "outbox_full_policy": args.outbox_full_policy, "outbox_max_events": args.outbox_max_events,
            "outbox_max_bytes": args.outbox_max_bytes, "outbox_max_age_s": args.outbox_max_age_s,
            "shutdown_wait_s": args.shutdown_wait_s, "http_listen": args.http_listen, "workers": args.workers})
    except config.ConfigError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    from gateway.service import Gateway

    gw = Gateway(cfg)

    async def main():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, gw.stop, sig.name)
        await gw.run()

    asyncio.run(main())
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m gateway", description="OneCode site gateway")
    add_arguments(p)
    return run(p.parse_args(argv))
