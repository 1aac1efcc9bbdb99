"""`onecode broker`: run an MQTT broker on loopback (Mosquitto if installed, else amqtt)."""
import sys


def register(sub):
    p = sub.add_parser("broker", help="run an MQTT broker on 127.0.0.1 / 运行 MQTT 代理")
    p.add_argument("--port", type=int, default=1883, help="port (default 1883)")
    p.add_argument("--engine", choices=("auto", "mosquitto", "amqtt"), default="auto",
                   help="auto = Mosquitto when on PATH, else the embedded amqtt broker")
    p.add_argument("--workdir", default="var/broker", help="where the Mosquitto config is written")
    p.set_defaults(func=_run)


def _run(args):
    import asyncio
    import logging
    import os
    import signal

    from onecode_cli import brokers
    logging.basicConfig(level="INFO", format="%(asctime)s broker %(levelname)s %(message)s")
    engine = args.engine
    if engine == "auto":
        engine = "mosquitto" if brokers.mosquitto_path() else "amqtt"
    if engine == "mosquitto":
        if not brokers.mosquitto_path():
            print("error: mosquitto is not installed / 未安装 mosquitto", file=sys.stderr)
            return 2
        argv = brokers.mosquitto_command(args.port, args.workdir)
        logging.getLogger("broker").info("broker: Mosquitto (%s) on 127.0.0.1:%d", argv[0], args.port)
        sys.stdout.flush()
        os.execv(argv[0], argv)  # becomes mosquitto: signals reach it directly
    logging.getLogger("broker").info("broker: embedded amqtt on 127.0.0.1:%d (Mosquitto not found)", args.port)

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await brokers.run_amqtt(args.port, stop)

    asyncio.run(main())
    return 0
