// The VM half of the virtual board (tools/mpy/board.mjs): runs in a worker thread so
// the main thread stays free to relay bytes and to act as the watchdog.
//
// It owns one MicroPython VM and its event-driven REPL and fills the gaps between that
// REPL and a USB board as mpremote sees it: raw-paste mode, soft reset on Ctrl-D,
// board errno numbers in OSError, '/lib' populated from the host. It must never touch
// the host filesystem: files come in as a snapshot from the main thread and changes go
// back the same way (so a watchdog restart keeps "flash").
//
// Messages in: {input: Uint8Array}. Out: {ready}, {out: Uint8Array}, {command} just
// before a raw-REPL command runs, {fs: {put: {path: bytes | null for a dir}, del: [path]}}
// after code ran, {done, rawRepl} after each input chunk.
import { parentPort, workerData } from "node:worker_threads";

const RAW_BANNER = "raw REPL; CTRL-B to exit\r\n>";
const PASTE_WINDOW = 512; // bytes the host may send before waiting for \x01
const SKIP_DIRS = new Set(["/dev", "/proc"]);

// Runs in the VM at start and after each soft reset: makes OSError carry MicroPython
// errno numbers (the Emscripten build raises WASI numbers, e.g. 44 for ENOENT).
const ERRNO_SHIM = `
def _onecode_board_shim():
    import builtins, os
    m = {63: 1, 44: 2, 29: 5, 60: 6, 1: 7, 8: 9, 6: 11, 48: 12, 2: 13, 10: 16, 20: 17,
         75: 18, 43: 19, 54: 20, 31: 21, 28: 22, 41: 23, 33: 24, 59: 25, 22: 27, 51: 28,
         70: 29, 69: 30, 37: 36, 55: 39, 32: 40, 58: 95}
    def wrap(f):
        if getattr(f, "_onecode_wrapped", False):
            return f
        def g(*a, **k):
            try:
                return f(*a, **k)
            except OSError as e:
                n = e.errno
                if n in m:
                    raise OSError(m[n])
                raise
        g._onecode_wrapped = True
        return g
    if not hasattr(builtins, "_onecode_open"):
        builtins._onecode_open = builtins.open
        builtins.open = wrap(builtins.open)
    for name in ("stat", "mkdir", "rmdir", "remove", "unlink", "rename", "chdir", "statvfs"):
        if hasattr(os, name):
            setattr(os, name, wrap(getattr(os, name)))
    if getattr(os.ilistdir, "_onecode_wrapped", False):
        return
    ilistdir, stat = wrap(os.ilistdir), os.stat
    hidden = ("dev", "proc")  # the VM's own devices; a board's root has none
    def board_ilistdir(path="."):
        # A board gives (name, type, inode, size); the VM leaves the size out.
        top = path in ("/", "") or (path == "." and os.getcwd() == "/")
        base = path if path.endswith("/") else path + "/"
        for e in list(ilistdir(path)):
            if top and e[0] in hidden:
                continue
            size = stat(base + e[0])[6] if e[1] == 0x8000 else 0
            yield (e[0], e[1], e[2], size)
    board_ilistdir._onecode_wrapped = True
    os.ilistdir = board_ilistdir
    os.listdir = lambda path=".": [e[0] for e in board_ilistdir(path)]
_onecode_board_shim()
del _onecode_board_shim
`;

// Soft reset as a board does it: a fresh __main__, modules unloaded, sys.path reset.
// (Re-running mp_js_init would leak the whole heap each time.)
const SOFT_RESET = `
def _onecode_soft_reset():
    import sys, gc
    for k in list(sys.modules):
        del sys.modules[k]
    sys.path[:] = ["", ".frozen", "/lib"]
    sys.argv[:] = []
    g = globals()
    for k in list(g):
        if k not in ("__name__", "_onecode_soft_reset"):
            del g[k]
    gc.collect()
_onecode_soft_reset()
del _onecode_soft_reset
`;

const { pkgEntry, heap, snapshot, rawRepl: startRaw } = workerData;
const { loadMicroPython } = await import(pkgEntry);

let pending = [];
let mute = false;
let dropNext = 0;
let lastFlush = Date.now();
function flush() {
  if (pending.length) {
    parentPort.postMessage({ out: Uint8Array.from(pending) });
    pending = [];
  }
  lastFlush = Date.now();
}
function emit(bytes) {
  if (mute) return;
  for (const b of bytes) {
    if (dropNext > 0) {
      dropNext -= 1;
      continue;
    }
    pending.push(b);
    // Stream output while long-running code is still executing.
    if (b === 10 || pending.length >= 4096 || Date.now() - lastFlush > 50) flush();
  }
}
const emitStr = (s) => emit(Buffer.from(s, "latin1"));

const mp = await loadMicroPython({ heapsize: heap, linebuffer: false, stdout: emit, stderr: emit });
const FS = mp.FS;

// --- filesystem: restore the snapshot, report changes ---------------------------------
const known = new Map(); // path -> "mtime:size" (files) or "dir"
function mkdirp(dir) {
  let cur = "";
  for (const part of dir.split("/").filter(Boolean)) {
    cur += "/" + part;
    try {
      FS.mkdir(cur);
    } catch (err) {
      // exists already
    }
  }
}
function restore(snap) {
  for (const d of ["/tmp", "/home/web_user", "/home"]) {
    try {
      FS.rmdir(d); // Emscripten's defaults; a board's flash starts with /lib only
    } catch (err) {
      // not empty or not there
    }
  }
  for (const [p, data] of Object.entries(snap)) {
    if (data === null) mkdirp(p);
    else {
      mkdirp(p.slice(0, p.lastIndexOf("/")) || "/");
      FS.writeFile(p, data);
    }
  }
  walk(() => {}); // remember what is there now, so only later changes are reported
}
function walk(onChange) {
  const seen = new Set();
  const visit = (dir) => {
    for (const name of FS.readdir(dir)) {
      if (name === "." || name === "..") continue;
      const p = (dir === "/" ? "" : dir) + "/" + name;
      if (SKIP_DIRS.has(p)) continue;
      const st = FS.stat(p);
      seen.add(p);
      if (FS.isDir(st.mode)) {
        if (known.get(p) !== "dir") onChange(p, null);
        known.set(p, "dir");
        visit(p);
      } else if (FS.isFile(st.mode)) {
        const tag = `${st.mtime.getTime()}:${st.size}`;
        if (known.get(p) !== tag) onChange(p, FS.readFile(p));
        known.set(p, tag);
      }
    }
  };
  visit("/");
  const gone = [...known.keys()].filter((p) => !seen.has(p));
  for (const p of gone) known.delete(p);
  return gone;
}
function reportFs() {
  const put = {};
  const del = walk((p, data) => {
    put[p] = data;
  });
  if (del.length || Object.keys(put).length) parentPort.postMessage({ fs: { put, del } });
}

// --- REPL bridge -----------------------------------------------------------------------
// Mirror of the VM's REPL state, kept from the bytes we feed it.
const st = { raw: false, lineLen: 0, held: [], paste: null, ran: false };

function python(code) {
  const was = mute;
  mute = true;
  try {
    mp.runPython(code);
  } finally {
    mute = was;
  }
}

function boot(raw) {
  python(ERRNO_SHIM);
  mute = raw; // a board that resets in raw mode prints only the raw banner
  mp.replInit();
  if (raw) {
    mp.replProcessChar(1);
    mute = false;
    emitStr(RAW_BANNER);
  }
  st.raw = raw;
  st.lineLen = 0;
}

function softReset() {
  emitStr("MPY: soft reboot\r\n");
  python(SOFT_RESET);
  boot(st.raw);
}

// Feed one byte to the VM, tracking the REPL mode the way pyexec does.
function feed(c) {
  if (st.raw) {
    if (c === 1) st.lineLen = 0;
    else if (c === 2) st.raw = false;
    else if (c === 3) st.lineLen = 0;
    else if (c === 4) {
      if (st.lineLen > 0) {
        // Tell the watchdog a command is starting: if it never returns, the main
        // thread closes the frame mpremote is waiting for.
        flush();
        parentPort.postMessage({ command: true });
        st.ran = true;
      }
      st.lineLen = 0;
    } else st.lineLen += 1;
  } else if (c === 1) {
    st.raw = true;
    st.lineLen = 0;
  } else if (c === 13) st.ran = true;
  const ret = mp.replProcessChar(c);
  if (ret & 0x100) softReset(); // Ctrl-D with nothing typed
}

// Raw-paste mode (\x05A\x01 at the start of a raw command): the VM's own reader would
// block on stdin, so the bridge collects the code with flow control and then hands
// it to the VM as an ordinary raw-REPL command, dropping that command's "OK".
function pasteByte(c) {
  const p = st.paste;
  if (c === 4) {
    st.paste = null;
    emit([4]); // acknowledge the end of data
    if (p.code.length === 0) {
      emitStr("\x04\x04>"); // nothing to run (a bare Ctrl-D here would soft-reset)
      return;
    }
    for (const b of p.code) feed(b); // the raw REPL does not echo
    dropNext = 2; // the "OK" that raw-paste mode does not send
    feed(4);
    dropNext = 0;
    return;
  }
  if (c === 3) {
    // Ctrl-C abandons the paste: end it without running anything.
    st.paste = null;
    emit([4]);
    emitStr(">");
    return;
  }
  p.code.push(c);
  p.sinceAck += 1;
  if (p.sinceAck >= PASTE_WINDOW) {
    p.sinceAck = 0;
    emit([1]); // the host may send one more window
  }
}

function processInput(bytes) {
  for (const c of bytes) {
    if (st.paste) {
      pasteByte(c);
      continue;
    }
    if (st.raw && st.lineLen === 0 && st.held.length === 0 && c === 5) {
      st.held.push(c);
      continue;
    }
    if (st.held.length === 1 && c === 0x41) {
      st.held.push(c);
      continue;
    }
    if (st.held.length === 2 && c === 1) {
      st.held = [];
      emit([0x52, 1, PASTE_WINDOW & 0xff, PASTE_WINDOW >> 8]); // "R\x01" + window
      st.paste = { code: [], sinceAck: 0 };
      continue;
    }
    if (st.held.length) {
      const held = st.held;
      st.held = [];
      for (const h of held) feed(h);
    }
    feed(c);
  }
}

// --- start -----------------------------------------------------------------------------
restore(snapshot);
boot(startRaw);
flush();
parentPort.postMessage({ ready: true });

parentPort.on("message", (msg) => {
  if (!msg.input) return;
  st.ran = false;
  processInput(msg.input);
  flush();
  if (st.ran) reportFs();
  parentPort.postMessage({ done: true, rawRepl: st.raw });
});
