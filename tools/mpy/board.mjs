// A virtual board: the MicroPython VM behind a byte stream that speaks a board's REPL.
//
//   node tools/mpy/board.mjs [--lib DIR]... [--timeout SECONDS] [--heap BYTES]
//
// Bytes from stdin are typed at the REPL, the VM's output goes to stdout (binary).
// Put a pseudo-terminal in front (tools/onecode_cli/sim/virtual_board.py does) and
// `mpremote connect /dev/pts/N` talks to it as to a USB board: raw REPL, raw-paste
// mode, soft reset, file system commands.
//
// The VM runs in a worker thread (board_vm.mjs); this thread relays bytes, keeps a copy
// of the VM's files and is the watchdog: code that runs longer than --timeout seconds
// (default 20; 0 = never) gets the VM restarted with its files kept, like a board's
// WDT reset. It must never expose the host filesystem to the VM: --lib DIRs are copied
// in once, at start ('/lib' in the VM gets the contents of each DIR).
//
// Exit status: 0 when stdin closes, 2 for bad arguments or a missing `npm ci`.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

const PKG = "@micropython/micropython-webassembly-pyscript";
const VM_SCRIPT = new URL("./board_vm.mjs", import.meta.url);

function fail(message) {
  process.stderr.write(`board.mjs: ${message}\n`);
  process.stderr.write("usage: node tools/mpy/board.mjs [--lib DIR]... [--timeout SECONDS] [--heap BYTES]\n");
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { libs: [], timeout: 20, heap: 4 * 1024 * 1024 };
  for (let i = 0; i < argv.length; i += 2) {
    const [a, v] = [argv[i], argv[i + 1]];
    if (v === undefined) fail(`${a} needs a value`);
    if (a === "--lib") {
      const d = path.resolve(v);
      if (!fs.statSync(d, { throwIfNoEntry: false })?.isDirectory()) fail(`not a directory: ${v}`);
      opts.libs.push(d);
    } else if (a === "--timeout") {
      opts.timeout = Number(v);
      if (!(opts.timeout >= 0)) fail(`bad --timeout ${v}`);
    } else if (a === "--heap") {
      opts.heap = Number(v);
      if (!Number.isInteger(opts.heap) || opts.heap < 65536) fail(`bad --heap ${v}`);
    } else fail(`unknown option ${a}`);
  }
  return opts;
}

// The board's initial "flash": an empty /lib plus the files of each --lib DIR.
function initialFiles(libs) {
  const snap = { "/lib": null };
  const walk = (hostDir, vmDir) => {
    for (const ent of fs.readdirSync(hostDir, { withFileTypes: true })) {
      if (ent.name.startsWith(".") || ent.name === "__pycache__") continue;
      const host = path.join(hostDir, ent.name);
      const vm = `${vmDir}/${ent.name}`;
      if (ent.isDirectory()) {
        snap[vm] = null;
        walk(host, vm);
      } else if (ent.isFile()) snap[vm] = fs.readFileSync(host);
    }
  };
  for (const d of libs) walk(d, "/lib");
  return snap;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  let pkgEntry;
  try {
    pkgEntry = pathToFileURL(createRequire(import.meta.url).resolve(PKG)).href;
  } catch (err) {
    fail(`${PKG} is not installed; run \`npm ci\` in the repository root`);
  }
  const files = initialFiles(opts.libs);
  const out = (bytes) => process.stdout.write(bytes);

  let worker = null;
  let ready = false;
  let queued = []; // input that arrived while the VM was (re)starting
  let rawRepl = false;
  let busy = 0; // input chunks sent and not yet processed
  let busySince = 0;
  let command = null; // {eofs} while a raw-REPL command runs

  const start = (raw) => {
    ready = false;
    busy = 0;
    command = null;
    worker = new Worker(VM_SCRIPT, { workerData: { pkgEntry, heap: opts.heap, snapshot: files, rawRepl: raw } });
    const me = worker;
    me.on("message", (msg) => {
      if (me !== worker) return;
      if (msg.out) {
        if (command) for (const b of msg.out) if (b === 4) command.eofs += 1;
        out(msg.out);
      } else if (msg.command) command = { eofs: 0 };
      else if (msg.fs) {
        for (const p of msg.fs.del) delete files[p];
        Object.assign(files, msg.fs.put);
      } else if (msg.done) {
        rawRepl = msg.rawRepl;
        command = null;
        busy -= 1;
        busySince = Date.now();
      } else if (msg.ready) {
        ready = true;
        const q = queued;
        queued = [];
        for (const chunk of q) send(chunk);
      }
    });
    me.on("error", (err) => {
      process.stderr.write(`board.mjs: VM failure: ${err && err.stack ? err.stack : err}\n`);
      if (me !== worker) return;
      if (!ready) process.exit(2); // it cannot even start: restarting would only loop
      restart("the VM failed");
    });
  };

  const send = (chunk) => {
    if (!ready) {
      queued.push(chunk);
      return;
    }
    if (busy === 0) busySince = Date.now();
    busy += 1;
    worker.postMessage({ input: chunk });
  };

  // A board's watchdog reset: the VM starts over, its files stay. If mpremote waits
  // for the end of a raw-REPL command, finish that frame with an error so it stops.
  const restart = (why) => {
    const old = worker;
    worker = null;
    old.terminate();
    const note = `WatchdogReset: ${why}; VM restarted, files kept\r\n`;
    if (rawRepl && command) {
      out(Buffer.from((command.eofs === 0 ? "\x04" : "") + note + "\x04"));
    } else out(Buffer.from(`\r\n${note}`));
    start(rawRepl);
  };

  if (opts.timeout > 0) {
    setInterval(() => {
      if (worker && busy > 0 && Date.now() - busySince > opts.timeout * 1000) {
        restart(`code ran longer than ${opts.timeout} s`);
      }
    }, 100).unref();
  }

  start(false);
  process.stdin.on("data", (chunk) => send(new Uint8Array(chunk)));
  process.stdin.on("end", () => process.exit(0));
  process.stdout.on("error", () => process.exit(0)); // the reader went away
}

main();
