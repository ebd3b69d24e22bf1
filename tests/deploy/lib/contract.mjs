// What the deployment files must agree on: ports, names, and the flags of the
// binaries (docs/design.md §7). When a binary is built, its --help output is the
// authority for its flags; these lists are the fallback before it exists.
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";

export const GRPC_PORT = 50051;
export const API_METRICS_PORT = 9464;
export const API_HTTP_PORT = 8080;  // --http: the JSON API and the web dashboard
export const REDIS_PORT = 6379;
// The worker's SIGTERM drain must end before Kubernetes kills it.
export const DRAIN_MARGIN_S = 30;

// Secrets the operator creates (never rendered, so an apply cannot overwrite them).
export const OPERATOR_SECRETS = { "landscape-tokens": ["tokens"] };

// The work queue: a Redis stream read through one consumer group (docs/design.md §4).
// KEDA scales the workers on its lag. Read from the Redis schema when the
// sources have it (redis/include/landscape/redis/schema.h), so a rename
// there fails this test; else the names the service branch uses.
export function queueNames(sourceDir) {
  const file = path.join(sourceDir, "redis", "include", "landscape", "redis", "schema.h");
  const fallback = { stream: "lls:queue", group: "workers", source: "built-in (no redis/.../schema.h)" };
  if (!fs.existsSync(file)) return fallback;
  const text = fs.readFileSync(file, "utf8");
  const prefix = /Schema\s*\(\s*std::string\s+prefix\s*=\s*"([^"]*)"/.exec(text);
  const queue = /Queue\(\)\s*const\s*\{\s*return\s+p_\s*\+\s*"([^"]*)"/.exec(text);
  const group = /kGroup\s*=\s*"([^"]*)"/.exec(text);
  if (!prefix || !queue || !group) throw new Error(`${file}: cannot find the default prefix, Queue() or kGroup`);
  return { stream: prefix[1] + queue[1], group: group[1], source: file };
}

// Image name (without registry and tag) -> Dockerfile target and binary.
export const IMAGES = {
  "landscape/api": { target: "api", binary: "landscape-server" },
  "landscape/worker-cpu": { target: "worker-cpu", binary: "landscape-worker" },
  "landscape/worker-cuda": { target: "worker-cuda", binary: "landscape-worker" },
};

// docs/design.md §7, the user-facing contract.
export const DESIGN_FLAGS = {
  "landscape-server": ["--listen", "--redis", "--tokens", "--metrics"],
  "landscape-worker": ["--redis", "--device", "--threads", "--cache"],
};
// Flags the deployment uses beyond §7, to be confirmed by --help once the
// binary exists (the test prints them while it relies on this list).
export const ASSUMED_FLAGS = {
  // From the service branch's server (issue 3): seconds in-flight calls get on SIGTERM.
  "landscape-server": ["--drain"],
  // From the service branch's worker (issue 3): SIGTERM drain time in seconds.
  "landscape-worker": ["--drain-timeout"],
};

export function projectVersion(sourceDir) {
  const text = fs.readFileSync(path.join(sourceDir, "CMakeLists.txt"), "utf8");
  const m = text.match(/project\s*\(\s*landscape\s+VERSION\s+([0-9][0-9.]*)/);
  if (!m) throw new Error("no project(landscape VERSION x.y.z) in CMakeLists.txt");
  return m[1];
}

// Finds an executable named `name` in a CMake build tree (or null).
export function findBinary(buildDir, name) {
  if (!buildDir || !fs.existsSync(buildDir)) return null;
  const queue = [[buildDir, 0]];
  while (queue.length) {
    const [dir, depth] = queue.shift();
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isFile() && e.name === name) {
        try {
          fs.accessSync(p, fs.constants.X_OK);
          return p;
        } catch {
          /* not executable */
        }
      } else if (e.isDirectory() && depth < 3 && e.name !== "CMakeFiles" && !e.name.startsWith(".")) {
        queue.push([p, depth + 1]);
      }
    }
  }
  return null;
}

// The flags a binary accepts: from its --help when built, else the fallback.
// Returns { flags: Set, source: string, assumed: string[] }.
export function binaryFlags(buildDir, name) {
  const bin = findBinary(buildDir, name);
  if (bin) {
    let out;
    try {
      out = execFileSync(bin, ["--help"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30000 });
    } catch (e) {
      // Some parsers print help and exit non-zero; use what was printed.
      out = `${e.stdout || ""}${e.stderr || ""}`;
    }
    const flags = new Set(out.match(/--[a-z][a-z0-9-]*/g) || []);
    if (flags.size === 0) throw new Error(`${bin} --help printed no --flags`);
    return { flags, source: `${bin} --help`, assumed: [] };
  }
  const assumed = ASSUMED_FLAGS[name] || [];
  return {
    flags: new Set([...(DESIGN_FLAGS[name] || []), ...assumed]),
    source: `docs/design.md §7 (${name} is not built)`,
    assumed,
  };
}

// "--listen=0.0.0.0:50051" or "--listen 0.0.0.0:50051" -> Map flag -> value.
export function parseArgs(args) {
  const out = new Map();
  for (let i = 0; i < args.length; i++) {
    const a = String(args[i]);
    if (!a.startsWith("--")) continue;
    const eq = a.indexOf("=");
    if (eq > 0) {
      out.set(a.slice(0, eq), a.slice(eq + 1));
    } else if (i + 1 < args.length && !String(args[i + 1]).startsWith("--")) {
      out.set(a, String(args[i + 1]));
      i++;
    } else {
      out.set(a, "");
    }
  }
  return out;
}

export function portOf(hostPort) {
  const m = /:(\d+)$/.exec(hostPort || "");
  return m ? Number(m[1]) : null;
}
