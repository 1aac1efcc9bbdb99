"""A virtual ESP32 board on a pseudo-terminal, for `mpremote connect /dev/pts/N`.

`VirtualBoard` opens a pty pair, starts `node tools/mpy/board.mjs` (the MicroPython VM
behind a board's REPL, see tools/mpy/README.md) and relays bytes between the pty
master and Node in a thread. `.port` is the slave device path to hand to mpremote.

    with VirtualBoard(lib_dirs=["firmware/lib"], timeout=20) as board:
        subprocess.run([sys.executable, "-m", "mpremote", "connect", board.port,
                        "exec", "print(1+1)"])

The slave side is set raw (no echo) and kept open by us: otherwise the pty would echo
the VM's output back into it, and would hang up whenever mpremote disconnects.

It must never talk to a real board or let the VM see the host filesystem (board.mjs
copies `lib_dirs` in once). Stopping it ends Node and closes every fd it opened.
"""
import os
import select
import subprocess
import termios
import threading
import time
import tty

from onecode_cli import mpy

# Output kept for a reader that is not there yet; beyond this the oldest is dropped,
# as a board's UART drops bytes nobody reads.
MAX_BACKLOG = 1 << 20


class VirtualBoard:
    def __init__(self, lib_dirs=(), timeout=20.0, heap=None):
        """lib_dirs: host dirs whose contents go to the VM's /lib; timeout: watchdog
        seconds (0 = none); heap: initial VM heap in bytes (board.mjs default if None)."""
        self.lib_dirs = [str(d) for d in lib_dirs]
        self.timeout = timeout
        self.heap = heap
        self.port = None
        self._proc = None
        self._master = self._slave = None
        self._thread = None
        self._stop = threading.Event()
        self._first_output = threading.Event()
        self._node_gone = False

    def command(self):
        """The argv that starts the board process (raises mpy.VMNotInstalled)."""
        node, run_script = mpy._node_and_script(mpy.repo_root())
        cmd = [node, str(run_script.with_name("board.mjs")), "--timeout", str(self.timeout)]
        for d in self.lib_dirs:
            cmd += ["--lib", d]
        if self.heap is not None:
            cmd += ["--heap", str(self.heap)]
        return cmd

    def start(self, ready_timeout=15.0):
        cmd = self.command()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave, termios.TCSANOW)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self._thread = threading.Thread(target=self._relay, name="virtual-board-relay", daemon=True)
        self._thread.start()
        # The banner means the VM is loaded; input typed earlier would be queued anyway,
        # but waiting makes the first mpremote command's timing predictable.
        started = self._first_output.wait(ready_timeout)
        if self._node_gone:
            code = self._proc.wait(5)
            self.close()
            raise RuntimeError("virtual board exited with status %s at start" % code)
        if not started:
            self.close()
            raise RuntimeError("virtual board did not start within %s s" % ready_timeout)
        return self

    def _relay(self):
        node_out = self._proc.stdout.fileno()
        node_in = self._proc.stdin.fileno()
        backlog = bytearray()
        while not self._stop.is_set():
            wlist = [self._master] if backlog else []
            try:
                readable, writable, _ = select.select([self._master, node_out], wlist, [], 0.1)
            except (OSError, ValueError):
                break
            if node_out in readable:
                data = os.read(node_out, 65536)
                if not data:
                    self._node_gone = True
                    self._first_output.set()  # let start() see it
                    break
                self._first_output.set()
                backlog += data
                if len(backlog) > MAX_BACKLOG:
                    del backlog[: len(backlog) - MAX_BACKLOG]
            if self._master in readable:
                try:
                    data = os.read(self._master, 65536)
                except BlockingIOError:
                    data = None
                if data:
                    try:
                        os.write(node_in, data)
                    except (BrokenPipeError, OSError):
                        break
            if backlog and (self._master in writable or not wlist):
                try:
                    n = os.write(self._master, backlog)
                    del backlog[:n]
                except BlockingIOError:
                    pass

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._proc is not None:
            for stream in (self._proc.stdin, self._proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def serve(lib_dirs=(), timeout=20.0, out=print):
    """`onecode sim board`: run a board until Ctrl-C (or until Node dies)."""
    with VirtualBoard(lib_dirs, timeout) as board:
        out(board.port)
        out("mpremote connect %s   (Ctrl-C here stops the board / 按 Ctrl-C 停止)" % board.port)
        while board.running:
            time.sleep(0.5)
    return 0
