// A small Dockerfile reader (instructions grouped by stage) and the image
// rules: a hadolint-like subset of best practices, plus landscape's targets,
// entrypoints, ports, users and health checks.
import fs from "node:fs";
import path from "node:path";
import { IMAGES, GRPC_PORT, API_METRICS_PORT, API_HTTP_PORT, parseArgs, portOf } from "./contract.mjs";

// Returns { args: Map(global ARG -> default), stages: [{ name, from, line, instructions }] },
// each instruction { keyword, text, line, json (array or null) }.
export function parseDockerfile(text) {
  const lines = text.split("\n");
  const instructions = [];
  let cur = null;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const trimmed = raw.trim();
    if (!cur && (trimmed === "" || trimmed.startsWith("#"))) continue;
    if (cur && trimmed.startsWith("#")) continue; // comment lines inside a continuation
    const continued = /\\\s*$/.test(raw);
    const piece = continued ? raw.replace(/\\\s*$/, "") : raw;
    if (!cur) {
      const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(piece);
      cur = { keyword: m[1].toUpperCase(), keywordRaw: m[1], text: m[2], line: i + 1 };
    } else {
      cur.text += ` ${piece.trim()}`;
    }
    if (!continued) {
      cur.text = cur.text.trim();
      instructions.push(cur);
      cur = null;
    }
  }
  if (cur) instructions.push(cur);
  for (const ins of instructions) {
    ins.json = null;
    if (ins.text.startsWith("[")) {
      try {
        ins.json = JSON.parse(ins.text);
      } catch {
        ins.json = null;
      }
    }
  }
  const args = new Map();
  const stages = [];
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.text);
      stages.push({ name: m?.[2] || null, from: m?.[1] || ins.text, line: ins.line, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword === "ARG") {
        const [k, v] = ins.text.split("=");
        args.set(k.trim(), v === undefined ? null : v.trim());
      }
    } else {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { args, stages, instructions };
}

const expand = (s, args) => s.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, k) => (args.has(k) ? args.get(k) ?? "" : `\${${k}}`));

// Best-practice rules (the subset of hadolint's that fits this project).
export function lintRules(df) {
  const errors = [];
  const at = (ins, msg) => errors.push(`Dockerfile:${ins.line}: ${msg}`);
  for (const [k, v] of df.args) {
    if (/IMAGE$/.test(k)) {
      if (!v) errors.push(`Dockerfile: ARG ${k} has no default`);
      else if (!/:[^/]+$/.test(v) && !v.includes("@")) errors.push(`Dockerfile: ARG ${k}=${v}: pin a tag`);
      else if (/:latest$/.test(v)) errors.push(`Dockerfile: ARG ${k}=${v}: do not use :latest`);
    }
  }
  const names = new Set(df.stages.map((s) => s.name));
  for (const s of df.stages) {
    const from = expand(s.from, df.args);
    if (!names.has(s.from) && !from.includes(":") && !from.includes("@") && from !== "scratch") at(s, `FROM ${s.from}: pin a tag`);
    if (/:latest$/.test(from)) at(s, `FROM ${s.from}: do not use :latest`);
    const hasPipefail = s.instructions.some((i) => i.keyword === "SHELL" && i.text.includes("pipefail"));
    for (const ins of s.instructions) {
      if (ins.keywordRaw !== ins.keyword) at(ins, `instruction ${ins.keywordRaw} should be upper case`);
      if (ins.keyword === "ADD") at(ins, "use COPY, not ADD");
      if (["CMD", "ENTRYPOINT"].includes(ins.keyword) && !Array.isArray(ins.json)) at(ins, `${ins.keyword} must use the exec (JSON) form so signals reach the process`);
      if (ins.keyword === "HEALTHCHECK" && !/\bCMD\s+\[/.test(ins.text) && !/^NONE$/.test(ins.text)) at(ins, "HEALTHCHECK CMD must use the exec (JSON) form");
      if (ins.keyword === "RUN") {
        const t = ins.text;
        if (/apt-get\s+(-\S+\s+)*install/.test(t)) {
          if (!/--no-install-recommends/.test(t)) at(ins, "apt-get install without --no-install-recommends");
          if (!/(-y|--yes|-qq)\b/.test(t)) at(ins, "apt-get install without -y");
          if (!/rm -rf \/var\/lib\/apt\/lists/.test(t)) at(ins, "apt-get install without removing /var/lib/apt/lists in the same RUN");
        }
        if (/apt-get\s+upgrade|apt-get\s+dist-upgrade/.test(t)) at(ins, "do not apt-get upgrade in an image");
        if (/(^|&&|;)\s*cd\s/.test(t)) at(ins, "use WORKDIR instead of cd");
        if (/\|/.test(t.replace(/\|\|/g, "")) && !hasPipefail && !/set -o pipefail/.test(t)) at(ins, "RUN with a pipe needs SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]");
        if (/\b(curl|wget)\b/.test(t)) at(ins, "no downloads in the build beyond base images and Debian packages");
      }
      if (ins.keyword === "USER" && /^(root|0)(:|$)/.test(ins.text)) at(ins, "USER root");
    }
  }
  return errors;
}

// The chain of stages a target is built FROM (target first).
export function stageChain(df, name) {
  const chain = [];
  let s = df.stages.find((x) => x.name === name);
  while (s) {
    chain.push(s);
    s = df.stages.find((x) => x.name === s.from);
  }
  return chain;
}

// Stages a target needs: its FROM chain and every COPY --from, transitively.
export function stageClosure(df, name) {
  const out = new Set();
  const visit = (n) => {
    for (const s of stageChain(df, n)) {
      if (out.has(s.name)) continue;
      out.add(s.name);
      for (const ins of s.instructions) {
        const m = /--from=(\S+)/.exec(ins.keyword === "COPY" ? ins.text : "");
        if (m && df.stages.some((x) => x.name === m[1])) visit(m[1]);
      }
    }
  };
  visit(name);
  return df.stages.filter((s) => out.has(s.name));
}

// Last value of an instruction in a target's chain (inherited like Docker does).
function effective(df, target, keyword) {
  for (const s of stageChain(df, target)) {
    const found = s.instructions.filter((i) => i.keyword === keyword);
    if (found.length) return found[found.length - 1];
  }
  return null;
}

export function exposedPorts(df, target) {
  const ports = new Set();
  for (const s of stageChain(df, target)) for (const i of s.instructions) if (i.keyword === "EXPOSE") for (const p of i.text.split(/\s+/)) ports.add(Number(p.split("/")[0]));
  return ports;
}

export function imageFacts(df, target) {
  const entry = effective(df, target, "ENTRYPOINT");
  const cmd = effective(df, target, "CMD");
  const user = effective(df, target, "USER");
  const health = effective(df, target, "HEALTHCHECK");
  return {
    entrypoint: entry?.json || null,
    cmd: cmd?.json || null,
    user: user?.text || null,
    healthcheck: health?.text || null,
    ports: exposedPorts(df, target),
    base: expand(stageChain(df, target).at(-1)?.from || "", df.args),
  };
}

// landscape's rules for its three targets.
export function checkImages(df, { sourceDir, flagsOf }) {
  const errors = [];
  const err = (t, msg) => errors.push(`Dockerfile target ${t}: ${msg}`);
  for (const [image, { target, binary }] of Object.entries(IMAGES)) {
    if (!df.stages.some((s) => s.name === target)) {
      err(target, `missing (image ${image})`);
      continue;
    }
    const f = imageFacts(df, target);
    if (!/bookworm-slim$/.test(f.base)) err(target, `runtime base is ${f.base}, expected debian:bookworm-slim`);
    if (!f.user || !/^[1-9]\d*(:[1-9]\d*)?$/.test(f.user)) err(target, `USER must be a numeric non-root uid (Kubernetes runAsNonRoot checks it), is ${f.user}`);
    if (!f.healthcheck) err(target, "no HEALTHCHECK (say HEALTHCHECK NONE where nothing can be probed)");
    if (binary === "landscape-server" && !/\bCMD\b/.test(f.healthcheck || "")) err(target, "the API's HEALTHCHECK must probe the gRPC health service");
    if (!f.entrypoint || path.basename(f.entrypoint[0]) !== binary || !f.entrypoint[0].startsWith("/")) err(target, `ENTRYPOINT must be ["/usr/local/bin/${binary}"], is ${JSON.stringify(f.entrypoint)}`);
    const { flags, source } = flagsOf(binary);
    const args = parseArgs(f.cmd || []);
    for (const flag of args.keys()) if (!flags.has(flag)) err(target, `CMD uses ${flag}, which ${binary} does not have (per ${source})`);
    const expectPorts = binary === "landscape-server" ? [GRPC_PORT, API_METRICS_PORT, API_HTTP_PORT] : [];
    if (binary === "landscape-server") {
      if (portOf(args.get("--listen")) !== GRPC_PORT) err(target, `CMD --listen must use port ${GRPC_PORT}`);
      if (!f.healthcheck?.includes(`:${GRPC_PORT}`)) err(target, `HEALTHCHECK must probe the gRPC port ${GRPC_PORT}`);
    }
    if (binary === "landscape-server" && portOf(args.get("--metrics")) !== API_METRICS_PORT) err(target, `CMD --metrics must use port ${API_METRICS_PORT}`);
    const exposed = [...f.ports].sort();
    if (JSON.stringify(exposed) !== JSON.stringify([...expectPorts].sort())) err(target, `EXPOSE ${exposed.join(" ")}, expected ${expectPorts.join(" ")}`);
    if (target === "worker-cuda") {
      if (!df.stages.some((s) => s.instructions.some((i) => i.keyword === "COPY" && /\$\{?LIBTORCH_DIR/.test(i.text)))) err(target, "no COPY of ${LIBTORCH_DIR}: the CUDA LibTorch must come from a build argument");
      if (!df.stages.some((s) => /\$\{?CUDA_DEVEL_IMAGE/.test(s.from))) err(target, "no FROM ${CUDA_DEVEL_IMAGE}: the CUDA toolkit image must be a build argument");
      if (/^cpu$/.test(args.get("--device") || "")) err(target, "CMD runs on --device cpu");
    }
    if (target === "worker-cpu" && args.has("--device") && args.get("--device") !== "cpu") err(target, "CMD runs on a GPU device");
  }
  // The API image and everything it is built from: no LibTorch.
  if (df.stages.some((s) => s.name === "api")) {
    for (const s of stageClosure(df, "api")) {
      for (const i of s.instructions) {
        if (i.keyword !== "RUN") continue;
        if (/libtorch/.test(i.text)) err("api", `stage ${s.name} (line ${i.line}) installs LibTorch`);
        if (/install-deps\.sh/.test(i.text) && !/--no-torch/.test(i.text)) err("api", `stage ${s.name} (line ${i.line}) runs install-deps.sh without --no-torch`);
        if (/LANDSCAPE_BUILD_WORKER=ON/.test(i.text)) err("api", `stage ${s.name} builds the engine`);
      }
    }
  }
  // Files COPY'd from the build context exist; scripts RUN from the sources exist.
  for (const s of df.stages) {
    for (const i of s.instructions) {
      if (i.keyword === "COPY" && !/--from=/.test(i.text)) {
        const parts = i.text.split(/\s+/).filter((p) => !p.startsWith("--"));
        for (const src of parts.slice(0, -1)) {
          if (src.includes("$")) continue;
          if (!fs.existsSync(path.join(sourceDir, src))) errors.push(`Dockerfile:${i.line}: COPY ${src}: no such file in the repository`);
        }
      }
      if (i.keyword === "RUN") {
        for (const m of i.text.matchAll(/\b((?:deploy|scripts)\/[\w./-]+\.sh)\b/g)) {
          const p = path.join(sourceDir, m[1]);
          if (!fs.existsSync(p)) errors.push(`Dockerfile:${i.line}: ${m[1]}: no such script`);
          else if (m.index > 0 && !/bash\s+$/.test(i.text.slice(0, m.index)) && !(fs.statSync(p).mode & 0o111)) errors.push(`Dockerfile:${i.line}: ${m[1]} is not executable`);
        }
      }
    }
  }
  return errors;
}
