// Run one Python file under the MicroPython VM (WebAssembly build from npm) in Node.
//
//   node tools/mpy/run.mjs [--lib DIR]... [--path DIR]... [--heap BYTES] FILE [ARGS...]
//
// This is the host stand-in for a board's `mpremote run`: it must never reach the
// network or the host filesystem from inside the VM. Files are copied *into* the VM's
// in-memory filesystem (only `.py` files), at the same absolute paths they have on the
// host, so MicroPython tracebacks name real files.
//
// sys.path inside the VM: [dir of FILE, --path dirs..., '', '.frozen', --lib dirs...]
// (the board's order is ['', '.frozen', '/lib']: frozen modules still win over libs).
//
// Exit status: 0 on normal completion, n for SystemExit(n), 1 for an uncaught
// exception (MicroPython traceback on stderr), 2 for a harness error.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const PKG = "@micropython/micropython-webassembly-pyscript";
// The initial GC heap; the VM grows it on demand. Generous so tests do not pay
// for repeated growth; gc.mem_free() numbers are therefore not board numbers.
const DEFAULT_HEAP = 16 * 1024 * 1024;
const CONFIG_PATH = "/tmp/.onecode_run.json";

function usage(message) {
  if (message) writeAll(2, Buffer.from(`run.mjs: ${message}\n`));
  writeAll(
    2,
    Buffer.from(
      "usage: node tools/mpy/run.mjs [--lib DIR]... [--path DIR]... [--heap BYTES] FILE [ARGS...]\n",
    ),
  );
  process.exit(2);
}

// Synchronous writes so output appears while the (synchronous) VM is still running.
function writeAll(fd, buf) {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      if (err.code !== "EAGAIN") throw err; // a non-blocking pipe that is full: retry
    }
  }
}

// Collects the VM's bytes and writes whole lines as they are completed.
function lineSink(fd) {
  let pending = [];
  const flush = () => {
    if (pending.length) {
      writeAll(fd, Buffer.from(pending));
      pending = [];
    }
  };
  const put = (bytes) => {
    for (const b of bytes) {
      pending.push(b);
      if (b === 10) flush();
    }
  };
  return { put, flush };
}

function parseArgs(argv) {
  const opts = { libs: [], paths: [], heap: DEFAULT_HEAP, file: null, args: [] };
  let i = 0;
  while (i < argv.length) {
    const a = argv[i];
    if (a === "--lib" || a === "--path" || a === "--heap") {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      const v = argv[i + 1];
      if (a === "--lib") opts.libs.push(path.resolve(v));
      else if (a === "--path") opts.paths.push(path.resolve(v));
      else {
        opts.heap = Number(v);
        if (!Number.isInteger(opts.heap) || opts.heap < 65536) usage(`bad --heap ${v}`);
      }
      i += 2;
    } else if (a === "--") {
      i += 1;
      break;
    } else if (a.startsWith("--") && opts.file === null) {
      usage(`unknown option ${a}`);
    } else {
      break;
    }
  }
  if (i >= argv.length) usage("no FILE given");
  opts.file = argv[i];
  opts.args = argv.slice(i + 1);
  return opts;
}

function mkdirp(FS, dir) {
  let cur = "";
  for (const part of dir.split("/").filter(Boolean)) {
    cur += "/" + part;
    try {
      FS.mkdir(cur);
    } catch (err) {
      // EEXIST is fine; anything else shows up when the file is written
    }
  }
}

// Copy every .py file under hostDir to the same path in the VM.
function copyTree(FS, hostDir) {
  let count = 0;
  const walk = (dir) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      if (ent.name.startsWith(".") || ent.name === "__pycache__" || ent.name === "node_modules") continue;
      const full = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(full);
      else if (ent.isFile() && ent.name.endsWith(".py")) {
        mkdirp(FS, dir);
        FS.writeFile(full, fs.readFileSync(full));
        count += 1;
      }
    }
  };
  walk(hostDir);
  mkdirp(FS, hostDir); // an empty dir may still go on sys.path
  return count;
}

// Runs inside MicroPython. Reads its settings from CONFIG_PATH, leaves only
// `_onecode_status` behind in __main__.
const BOOTSTRAP = `
def _onecode_run():
    import sys, json
    with open(${JSON.stringify(CONFIG_PATH)}) as f:
        cfg = json.load(f)
    sys.argv.clear()
    sys.argv.extend(cfg["argv"])
    front = cfg["front"]
    rest = [p for p in sys.path if p not in front and p not in cfg["libs"]]
    sys.path.clear()
    sys.path.extend(front + rest + cfg["libs"])
    g = {"__name__": "__main__", "__file__": cfg["file"]}
    try:
        with open(cfg["file"]) as f:
            src = f.read()
        exec(compile(src, cfg["file"], "exec"), g)
        return 0
    except SystemExit as e:
        code = e.args[0] if e.args else None
        if code is None:
            return 0
        if isinstance(code, int):
            return code & 0xFF
        print(code, file=sys.stderr)
        return 1
    except BaseException as e:
        sys.print_exception(e, sys.stderr)
        return 1
_onecode_status = _onecode_run()
del _onecode_run
`;

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const hostFile = path.resolve(opts.file);
  if (!fs.existsSync(hostFile)) usage(`no such file: ${opts.file}`);
  for (const d of [...opts.libs, ...opts.paths]) {
    if (!fs.statSync(d, { throwIfNoEntry: false })?.isDirectory()) usage(`not a directory: ${d}`);
  }

  let entry;
  try {
    entry = createRequire(import.meta.url).resolve(PKG);
  } catch (err) {
    writeAll(2, Buffer.from(`run.mjs: ${PKG} is not installed; run \`npm ci\` in the repository root\n`));
    process.exit(2);
  }
  const { loadMicroPython } = await import(pathToFileURL(entry).href);

  const out = lineSink(1);
  const err = lineSink(2);
  const mp = await loadMicroPython({
    heapsize: opts.heap,
    linebuffer: false, // we get bytes and do our own line buffering (keeps partial lines)
    // Flushing the other stream's partial line first keeps interleaved output in order.
    stdout: (bytes) => {
      err.flush();
      out.put(bytes);
    },
    stderr: (bytes) => {
      out.flush();
      err.put(bytes);
    },
  });
  const FS = mp.FS;

  for (const d of [...opts.libs, ...opts.paths]) copyTree(FS, d);
  mkdirp(FS, path.dirname(hostFile));
  FS.writeFile(hostFile, fs.readFileSync(hostFile));
  const config = {
    file: hostFile,
    argv: [opts.file, ...opts.args],
    front: [path.dirname(hostFile), ...opts.paths],
    libs: opts.libs,
  };
  FS.writeFile(CONFIG_PATH, JSON.stringify(config));

  let status;
  try {
    mp.runPython(BOOTSTRAP);
    status = Number(mp.globals.get("_onecode_status"));
  } catch (e) {
    // Only the bootstrap itself can get here (the user's code runs inside try).
    out.flush();
    err.put(Buffer.from(`run.mjs: VM failure: ${e && e.message ? e.message : e}\n`));
    status = 1;
  }
  out.flush();
  err.flush();
  // Exit now: tasks a script created with asyncio.create_task but never awaited
  // would otherwise keep running on Node's event loop after "the program" ended.
  process.exit(Number.isInteger(status) ? status : 1);
}

main().catch((e) => {
  writeAll(2, Buffer.from(`run.mjs: ${e && e.stack ? e.stack : e}\n`));
  process.exit(2);
});
