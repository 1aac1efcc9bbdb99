"""The self-test's hardware on a real board: machine.UART / I2C / Pin, network and
socket, built from the board definition's specs (onecode.selftest documents the
interface). Imported only on a board (the host and the virtual board have no
`machine`: onecode.selftest then uses NoHardware). Not tried on a physical board yet.
"""
import time

import machine

try:
    import network
except ImportError:
    network = None


class _I2CDevice:
    """write(bytes) / read(n) on one I2C address, as onecode.pn532 expects."""

    def __init__(self, i2c, address):
        self.i2c, self.address = i2c, address

    def write(self, data):
        self.i2c.writeto(self.address, data)
        return len(data)

    def read(self, n):
        return self.i2c.readfrom(self.address, n)


class PwmBuzzer:
    """A piezo on a PWM pin: play(((freq Hz, ms), ...)) blocks for the pattern (at most
    about 400 ms: onecode.messages.PATTERNS); freq 0 is a pause."""

    def __init__(self, pin):
        self.pwm = machine.PWM(machine.Pin(pin), freq=2700, duty_u16=0)

    def play(self, pattern):
        for freq, ms in pattern:
            if freq:
                self.pwm.freq(freq)
                self.pwm.duty_u16(32768)
            else:
                self.pwm.duty_u16(0)
            time.sleep_ms(ms)
        self.pwm.duty_u16(0)


class MachineHardware:
    def __init__(self):
        self._uarts = {}
        self._i2c = {}

    def now(self):
        return time.ticks_ms()

    def sleep(self, ms):
        time.sleep_ms(ms)

    def uart(self, spec):
        u = self._uarts.get(spec["id"])
        if u is None:
            u = machine.UART(spec["id"], baudrate=spec["baud"], tx=spec["tx"], rx=spec["rx"],
                             rxbuf=spec.get("rxbuf", 1024), timeout=0)
            self._uarts[spec["id"]] = u
        return u

    def i2c_device(self, bus, address):
        i2c = self._i2c.get(bus["id"])
        if i2c is None:
            i2c = machine.I2C(bus["id"], sda=machine.Pin(bus["sda"]), scl=machine.Pin(bus["scl"]), freq=bus["freq"])
            self._i2c[bus["id"]] = i2c
        return _I2CDevice(i2c, address)

    def buzzer(self, gpio):
        return PwmBuzzer(gpio)

    def pin_out(self, gpio, value=0):
        return machine.Pin(gpio, machine.Pin.OUT, value=value)

    def pin_in(self, spec):
        pull = {"up": machine.Pin.PULL_UP, "down": machine.Pin.PULL_DOWN}.get(spec.get("pull", "none"))
        return machine.Pin(spec["pin"], machine.Pin.IN, pull)

    def rssi(self):
        """Wi-Fi signal in dBm, or None when not connected."""
        if network is None:
            return None
        wlan = network.WLAN(network.STA_IF)
        try:
            return wlan.status("rssi") if wlan.isconnected() else None
        except (OSError, ValueError):
            return None

    def network(self):
        if network is None:
            return None
        wlan = network.WLAN(network.STA_IF)
        return wlan.isconnected(), wlan.ifconfig()[0]

    def reach(self, host, port, timeout_ms):
        import socket
        s = socket.socket()
        try:
            s.settimeout(timeout_ms / 1000)
            s.connect(socket.getaddrinfo(host, port)[0][-1])
            return True
        except OSError:
            return False
        finally:
            s.close()
