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
    p.add_argument("--log-level", default="INFO")


def run(args):
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s gateway %(levelname)s %(message)s")
    try:
        cfg = config.load(args.config, overrides={
            "site": args.site, "gateway_id": args.gateway_id, "site_broker": args.site_broker,
            "cloud_broker": args.cloud_broker, "outbox": args.outbox})
    except config.ConfigError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    from gateway.service import Gateway

    gw = Gateway(cfg)

    async def main():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, gw.stop)
        await gw.run()

    asyncio.run(main())
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m gateway", description="OneCode site gateway")
    add_arguments(p)
    return run(p.parse_args(argv))
