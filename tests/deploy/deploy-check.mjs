#!/usr/bin/env node
// Offline checks of landscape's deployment files (CTest label "deploy").
//
//   node tests/deploy/deploy-check.mjs COMMAND --source DIR [--build DIR]
//
//   k8s       render deploy/k8s/overlays/* with kustomize, validate every object
//             against the Kubernetes and KEDA schemas (no unknown field), and
//             check landscape's rules (ports, probes, flags, Redis AOF, KEDA lag)
//   images    lint the Dockerfile; its targets' entrypoints, ports, users and
//             health checks against the manifests and the binaries' flags
//   compose   deploy/compose.yaml against the Compose schema and the same rules
//   selftest  deliberately broken manifests, Dockerfiles and compose files must
//             be rejected (the checks above can fail)
//
// Exit status: 0 passed, 1 failed, 77 skipped (test tools missing; the message
// says how to install them). Flags are taken from `BINARY --help` when the
// binaries are built under --build, else from docs/design.md §7.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SKIP, Skip, render, toolRequire, parseYamlDocs, kustomizeCommand } from "./lib/tools.mjs";
import { createSchemaValidator, checkOverlay } from "./lib/k8s.mjs";
import { parseDockerfile, lintRules, checkImages, exposedPorts } from "./lib/dockerfile.mjs";
import { createComposeSchemaValidator, checkCompose } from "./lib/compose.mjs";
import { binaryFlags, projectVersion, queueNames, IMAGES } from "./lib/contract.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));

function parseCli(argv) {
  const opts = { command: argv[0], source: path.resolve(here, "..", ".."), build: null };
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === "--source") opts.source = path.resolve(argv[++i]);
    else if (argv[i] === "--build") opts.build = path.resolve(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return opts;
}

function makeFlagsOf(buildDir, log) {
  const cache = new Map();
  return (name) => {
    if (!cache.has(name)) {
      const f = binaryFlags(buildDir, name);
      cache.set(name, f);
      log(`flags of ${name}: from ${f.source}${f.assumed.length ? `; assumed until it is built: ${f.assumed.join(" ")}` : ""}`);
    }
    return cache.get(name);
  };
}

const overlaysOf = (source) => {
  const dir = path.join(source, "deploy", "k8s", "overlays");
  return fs.readdirSync(dir).filter((d) => fs.existsSync(path.join(dir, d, "kustomization.yaml"))).sort();
};

function checkK8s(opts, log) {
  const validate = createSchemaValidator(opts.source);
  const version = projectVersion(opts.source);
  const flagsOf = makeFlagsOf(opts.build, log);
  const queue = queueNames(opts.source);
  log(`renderer: ${kustomizeCommand(opts.source).label}`);
  log(`work stream ${queue.stream}, consumer group ${queue.group}: from ${queue.source}`);
  const errors = [];
  const overlays = overlaysOf(opts.source);
  for (const required of ["cpu", "gpu"]) if (!overlays.includes(required)) errors.push(`deploy/k8s/overlays/${required} is missing`);
  for (const overlay of overlays) {
    const docs = render(opts.source, path.join(opts.source, "deploy", "k8s", "overlays", overlay));
    const before = errors.length;
    for (const d of docs) for (const e of validate(d)) errors.push(`[${overlay}] ${e}`);
    for (const e of checkOverlay(docs, { overlay, version, flagsOf, queue })) errors.push(`[${overlay}] ${e}`);
    log(`overlay ${overlay}: ${docs.length} objects (${[...new Set(docs.map((d) => d.kind))].join(", ")}): ${errors.length === before ? "ok" : `${errors.length - before} problems`}`);
  }
  return errors;
}

function lintDockerfile(opts, text) {
  const req = toolRequire(opts.source);
  const utils = req("dockerfile-utils");
  const all = {};
  for (const k of ["deprecatedMaintainer", "directiveCasing", "emptyContinuationLine", "instructionCasing", "instructionCmdMultiple", "instructionEntrypointMultiple", "instructionHealthcheckMultiple", "instructionJSONInSingleQuotes", "instructionWorkdirRelative"]) all[k] = utils.ValidationSeverity.ERROR;
  const diags = utils.validate(text, all).map((d) => `Dockerfile:${d.range.start.line + 1}: ${d.message} (dockerfile-utils)`);
  return [...diags, ...lintRules(parseDockerfile(text))];
}

function checkImageFiles(opts, log) {
  const text = fs.readFileSync(path.join(opts.source, "Dockerfile"), "utf8");
  const df = parseDockerfile(text);
  const flagsOf = makeFlagsOf(opts.build, log);
  const errors = [...lintDockerfile(opts, text), ...checkImages(df, { sourceDir: opts.source, flagsOf })];
  const ignore = fs.existsSync(path.join(opts.source, ".dockerignore")) ? fs.readFileSync(path.join(opts.source, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()) : null;
  if (!ignore) errors.push(".dockerignore is missing");
  else for (const must of [".git", "**/build"]) if (!ignore.includes(must)) errors.push(`.dockerignore should exclude ${must}`);
  log(`Dockerfile: ${df.stages.length} stages (${df.stages.map((s) => s.name).join(", ")})`);
  // The images the manifests run are the Dockerfile's targets.
  for (const overlay of overlaysOf(opts.source)) {
    for (const d of render(opts.source, path.join(opts.source, "deploy", "k8s", "overlays", overlay))) {
      for (const c of d.spec?.template?.spec?.containers || []) {
        const name = c.image.split("@")[0].replace(/:[^/:]+$/, "");
        const short = Object.keys(IMAGES).find((n) => name === n || name.endsWith(`/${n}`));
        if (/landscape/.test(name) && !short) errors.push(`[${overlay}] ${d.kind}/${d.metadata.name}: image ${c.image} is built by no Dockerfile target`);
        if (!short) continue;
        const { target, binary } = IMAGES[short];
        if (c.command && c.command.length && path.basename(c.command[0]) !== binary) errors.push(`[${overlay}] ${d.kind}/${d.metadata.name}: command ${c.command[0]} overrides the ${target} image's ${binary}`);
        const exposed = exposedPorts(df, target);
        for (const p of c.ports || []) if (!exposed.has(p.containerPort)) errors.push(`[${overlay}] ${d.kind}/${d.metadata.name}: container port ${p.containerPort} is not EXPOSEd by Dockerfile target ${target}`);
      }
    }
  }
  return errors;
}

function checkComposeFile(opts, log) {
  const req = toolRequire(opts.source);
  const yaml = req("yaml");
  const file = path.join(opts.source, "deploy", "compose.yaml");
  const [doc] = parseYamlDocs(yaml, fs.readFileSync(file, "utf8"), file);
  const df = parseDockerfile(fs.readFileSync(path.join(opts.source, "Dockerfile"), "utf8"));
  const validate = createComposeSchemaValidator(req);
  const flagsOf = makeFlagsOf(opts.build, log);
  log(`compose: services ${Object.keys(doc.services || {}).join(", ")}`);
  return [...validate(doc), ...checkCompose(doc, { df, version: projectVersion(opts.source), flagsOf })];
}

// ---------------------------------------------------------------------------
// Self-test: each broken input must be rejected with the expected complaint.

function selftest(opts, log) {
  const req = toolRequire(opts.source);
  const yaml = req("yaml");
  const validate = createSchemaValidator(opts.source);
  const version = projectVersion(opts.source);
  const flagsOf = makeFlagsOf(opts.build, () => {});
  const queue = queueNames(opts.source);
  const failures = [];
  let cases = 0;
  const expectRejected = (label, errors, pattern) => {
    cases++;
    const hit = errors.some((e) => pattern.test(e));
    if (!hit) failures.push(`${label}: not rejected as expected (${pattern}); got: ${errors.length ? errors.join(" | ") : "no error"}`);
    else log(`rejected as expected: ${label}: ${errors.find((e) => pattern.test(e))}`);
  };

  // 1. Broken manifest files: schema and unknown fields.
  const fixtures = path.join(here, "fixtures", "broken");
  for (const f of fs.readdirSync(fixtures).filter((x) => x.endsWith(".yaml")).sort()) {
    const text = fs.readFileSync(path.join(fixtures, f), "utf8");
    const m = /^# expect: \/(.+)\/\s*$/m.exec(text);
    if (!m) throw new Error(`${f}: no "# expect: /regex/" line`);
    const docs = parseYamlDocs(yaml, text, f);
    expectRejected(`fixtures/broken/${f}`, docs.flatMap((d) => validate(d)), new RegExp(m[1]));
  }

  // 2. The real overlays, each broken in one way.
  const clone = (x) => JSON.parse(JSON.stringify(x));
  const rendered = Object.fromEntries(["cpu", "gpu"].map((o) => [o, render(opts.source, path.join(opts.source, "deploy", "k8s", "overlays", o))]));
  for (const o of ["cpu", "gpu"]) {
    const errs = checkOverlay(rendered[o], { overlay: o, version, flagsOf, queue });
    if (errs.length) failures.push(`pristine overlay ${o} is not clean: ${errs.join(" | ")}`);
  }
  const get = (docs, kind, name) => docs.find((d) => d.kind === kind && d.metadata.name === name);
  const container = (docs, name) => get(docs, "Deployment", name).spec.template.spec.containers[0];
  const mutations = [
    ["cpu", "KEDA on pending entries", (d) => { const m = get(d, "ScaledObject", "landscape-worker").spec.triggers[0].metadata; delete m.lagCount; m.pendingEntriesCount = "5"; }, /lagCount/],
    ["cpu", "KEDA stream renamed", (d) => { get(d, "ScaledObject", "landscape-worker").spec.triggers[0].metadata.stream = "lls:tiles"; }, /work stream/],
    ["cpu", "KEDA on another consumer group", (d) => { get(d, "ScaledObject", "landscape-worker").spec.triggers[0].metadata.consumerGroup = "lls:workers"; }, /consumerGroup/],
    ["cpu", "tokens Secret rendered (would overwrite the operator's)", (d) => { d.push({ apiVersion: "v1", kind: "Secret", metadata: { name: "landscape-tokens", namespace: "landscape" }, stringData: { tokens: "x" } }); }, /operator/],
    ["cpu", "drain longer than the grace period", (d) => { const a = container(d, "landscape-worker").args; a[a.findIndex((x) => x.startsWith("--drain-timeout"))] = "--drain-timeout=290"; }, /must exceed --drain-timeout/],
    ["cpu", "drain time left implicit", (d) => { const c = container(d, "landscape-worker"); c.args = c.args.filter((x) => !x.startsWith("--drain-timeout")); }, /--drain-timeout explicitly/],
    ["cpu", "KEDA address without namespace", (d) => { get(d, "ConfigMap", "landscape-config").data.LANDSCAPE_REDIS_ADDRESS = "landscape-redis:6379"; }, /its own namespace/],
    ["cpu", "ScaledObject in another namespace", (d) => { delete get(d, "ScaledObject", "landscape-worker").metadata.namespace; }, /namespace/],
    ["cpu", "ScaledObject targets nothing", (d) => { get(d, "ScaledObject", "landscape-worker").spec.scaleTargetRef.name = "worker"; }, /scaleTargetRef/],
    ["cpu", "Service targetPort missing", (d) => { get(d, "Service", "landscape-api").spec.ports[0].targetPort = "grcp"; }, /targetPort/],
    ["cpu", "API readiness on the metrics port", (d) => { const c = container(d, "landscape-api"); c.readinessProbe = { httpGet: { path: "/readyz", port: "metrics" } }; }, /readinessProbe must be httpGet \/readyz/],
    ["cpu", "API readiness on /healthz (blind to Redis)", (d) => { container(d, "landscape-api").readinessProbe.httpGet.path = "/healthz"; }, /readinessProbe must be httpGet \/readyz/],
    ["cpu", "API readiness over gRPC while --http serves", (d) => { container(d, "landscape-api").readinessProbe = { grpc: { port: 50051, service: "landscape.v1.LandscapeService" } }; }, /readinessProbe must be httpGet \/readyz/],
    ["cpu", "API liveness on /readyz (a Redis outage restarts every pod)", (d) => { container(d, "landscape-api").livenessProbe = { httpGet: { path: "/readyz", port: "http" } }; }, /livenessProbe must be/],
    ["cpu", "API liveness on the API's service (NOT_SERVING without Redis)", (d) => { container(d, "landscape-api").livenessProbe.grpc.service = "landscape.v1.LandscapeService"; }, /livenessProbe must be/],
    ["cpu", "API --http port not the container's http port", (d) => { const a = container(d, "landscape-api").args; a[a.findIndex((x) => x.startsWith("--http="))] = "--http=0.0.0.0:8081"; }, /--http port 8081/],
    ["cpu", "API drain longer than its grace period", (d) => { container(d, "landscape-api").args.push("--drain=60"); }, /--drain/],
    ["cpu", "API probe on the wrong port", (d) => { container(d, "landscape-api").livenessProbe.grpc.port = 50052; }, /port 50052/],
    ["cpu", "API --listen port differs from the container port", (d) => { container(d, "landscape-api").args[0] = "--listen=0.0.0.0:8080"; }, /--listen port/],
    ["cpu", "API tokens file not mounted", (d) => { container(d, "landscape-api").volumeMounts.shift(); }, /--tokens|volumeMount/],
    ["cpu", "unknown worker flag", (d) => { container(d, "landscape-worker").args.push("--bogus=1"); }, /has no flag --bogus/],
    ["cpu", "worker runs as root", (d) => { get(d, "Deployment", "landscape-worker").spec.template.spec.securityContext.runAsUser = 0; }, /runAsUser/],
    ["cpu", "writable root filesystem", (d) => { container(d, "landscape-api").securityContext.readOnlyRootFilesystem = false; }, /readOnlyRootFilesystem/],
    ["cpu", "worker killed before its tile ends", (d) => { get(d, "Deployment", "landscape-worker").spec.template.spec.terminationGracePeriodSeconds = 30; }, /terminationGracePeriodSeconds/],
    ["cpu", "Redis without AOF", (d) => { const cm = get(d, "ConfigMap", "landscape-redis-config"); cm.data["redis.conf"] = cm.data["redis.conf"].replace("appendonly yes", "appendonly no"); }, /appendonly/],
    ["cpu", "Redis may evict the queue", (d) => { const cm = get(d, "ConfigMap", "landscape-redis-config"); cm.data["redis.conf"] = cm.data["redis.conf"].replace("noeviction", "allkeys-lru"); }, /noeviction/],
    ["cpu", "Redis without a volume", (d) => { delete get(d, "StatefulSet", "landscape-redis").spec.volumeClaimTemplates; }, /volumeClaimTemplates|PersistentVolumeClaim|volumeMount/],
    ["cpu", "Redis behind a ClusterIP Service", (d) => { delete get(d, "Service", "landscape-redis").spec.clusterIP; }, /headless/],
    ["cpu", "LANDSCAPE_REDIS to a missing host", (d) => { get(d, "ConfigMap", "landscape-config").data.LANDSCAPE_REDIS = "redis://redis:6379"; }, /LANDSCAPE_REDIS host/],
    ["cpu", "image tag not the release", (d) => { container(d, "landscape-api").image = "landscape/api:9.9.9"; }, /project version/],
    ["cpu", "CPU overlay asks for a GPU", (d) => { container(d, "landscape-worker").resources.limits["nvidia.com/gpu"] = 1; }, /nvidia.com\/gpu/],
    ["cpu", "PDB selects nothing", (d) => { get(d, "PodDisruptionBudget", "landscape-api").spec.selector.matchLabels = { app: "api" }; }, /selector matches no workload/],
    ["gpu", "GPU worker without a GPU", (d) => { delete container(d, "landscape-worker").resources.limits["nvidia.com/gpu"]; }, /nvidia.com\/gpu/],
    ["gpu", "GPU worker without a toleration", (d) => { delete get(d, "Deployment", "landscape-worker").spec.template.spec.tolerations; }, /toleration/],
    ["gpu", "GPU worker on the CPU", (d) => { container(d, "landscape-worker").args[0] = "--device=cpu"; }, /--device cpu/],
  ];
  for (const [overlay, label, mutate, pattern] of mutations) {
    const docs = clone(rendered[overlay]);
    mutate(docs);
    expectRejected(`[${overlay}] ${label}`, checkOverlay(docs, { overlay, version, flagsOf, queue }), pattern);
  }
  // Schema errors in a rendered object are caught too.
  {
    const docs = clone(rendered.cpu);
    container(docs, "landscape-api").livenessProbe.grcp = { port: 50051 };
    expectRejected("[cpu] misspelt probe field", docs.flatMap((d) => validate(d)), /unknown field/);
    const docs2 = clone(rendered.gpu);
    get(docs2, "ScaledObject", "landscape-worker").spec.maxReplicaCount = "four";
    expectRejected("[gpu] ScaledObject maxReplicaCount as a string", docs2.flatMap((d) => validate(d)), /schema/);
  }

  // 3. The Dockerfile, each broken in one way.
  const dockerText = fs.readFileSync(path.join(opts.source, "Dockerfile"), "utf8");
  const dockerMutations = [
    ["api image runs as root", (t) => t.replace(/(FROM runtime-base AS api[\s\S]*?)USER 10001:10001\n/, "$1"), /USER/],
    ["shell-form ENTRYPOINT", (t) => t.replace('ENTRYPOINT ["/usr/local/bin/landscape-server"]', "ENTRYPOINT /usr/local/bin/landscape-server"), /exec \(JSON\) form|ENTRYPOINT/],
    ["apt-get with recommends", (t) => t.replace("apt-get install -y --no-install-recommends libtorch-dev", "apt-get install -y libtorch-dev"), /no-install-recommends/],
    ["bad EXPOSE", (t) => t.replace("EXPOSE 50051 9464", "EXPOSE 50051 metrics"), /Invalid containerPort|EXPOSE/],
    ["API without HEALTHCHECK", (t) => t.replace(/HEALTHCHECK[^\n]*\\\n\s*CMD \["\/usr\/local\/bin\/landscape-health-probe"[^\n]*\n/, ""), /HEALTHCHECK/],
    ["LibTorch in the API image", (t) => t.replace("--no-torch --no-tests", "--no-tests"), /without --no-torch/],
    ["unpinned base image", (t) => t.replace("ARG DEBIAN_SLIM_IMAGE=debian:bookworm-slim", "ARG DEBIAN_SLIM_IMAGE=debian"), /pin a tag|bookworm-slim/],
    ["unknown server flag in CMD", (t) => t.replace('CMD ["--listen", "0.0.0.0:50051"', 'CMD ["--port", "50051", "--listen", "0.0.0.0:50051"'), /--port/],
  ];
  for (const [label, mutate, pattern] of dockerMutations) {
    const broken = mutate(dockerText);
    if (broken === dockerText) {
      failures.push(`Dockerfile mutation "${label}" changed nothing (update the self-test)`);
      continue;
    }
    const errs = [...lintDockerfile(opts, broken), ...checkImages(parseDockerfile(broken), { sourceDir: opts.source, flagsOf })];
    expectRejected(`Dockerfile: ${label}`, errs, pattern);
  }

  // 4. The compose file, each broken in one way.
  const composeText = fs.readFileSync(path.join(opts.source, "deploy", "compose.yaml"), "utf8");
  const [composeDoc] = parseYamlDocs(yaml, composeText, "compose.yaml");
  const df = parseDockerfile(dockerText);
  const validateCompose = createComposeSchemaValidator(req);
  const composeMutations = [
    ["redis without AOF", (c) => { c.services.redis.command = ["redis-server"]; }, /appendonly/],
    ["misspelt key", (c) => { c.services.api.helthcheck = c.services.api.healthcheck; }, /compose schema/],
    ["port published to all interfaces", (c) => { c.services.api.ports[0] = "50051:50051"; }, /beyond loopback|HOST_IP/],
    ["unknown build target", (c) => { c.services.worker.build.target = "worker"; }, /build.target/],
    ["worker killed at once", (c) => { c.services.worker.stop_grace_period = "10s"; }, /stop_grace_period/],
  ];
  for (const [label, mutate, pattern] of composeMutations) {
    const c = clone(composeDoc);
    mutate(c);
    expectRejected(`compose: ${label}`, [...validateCompose(c), ...checkCompose(c, { df, version, flagsOf })], pattern);
  }
  log(`${cases} broken inputs, ${cases - failures.filter((f) => !f.startsWith("pristine")).length} rejected as expected`);
  return failures;
}

// ---------------------------------------------------------------------------

const commands = { k8s: checkK8s, images: checkImageFiles, compose: checkComposeFile, selftest };

function main() {
  let opts;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    return 2;
  }
  const run = commands[opts.command];
  if (!run) {
    console.error(`usage: deploy-check.mjs {${Object.keys(commands).join("|")}} --source DIR [--build DIR]`);
    return 2;
  }
  const log = (m) => console.log(`  ${m}`);
  try {
    const errors = run(opts, log);
    if (errors.length) {
      console.log(`FAIL deploy-check ${opts.command}: ${errors.length} problems`);
      for (const e of errors) console.log(`  - ${e}`);
      return 1;
    }
    console.log(`PASS deploy-check ${opts.command}`);
    return 0;
  } catch (e) {
    if (e instanceof Skip) {
      console.log(`SKIPPED deploy-check ${opts.command}: ${e.message}`);
      return SKIP;
    }
    console.log(`FAIL deploy-check ${opts.command}: ${e.stack || e.message}`);
    return 1;
  }
}

process.exitCode = main();
