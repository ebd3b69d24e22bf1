// Offline validation of rendered Kubernetes manifests:
//   1. schema: each object against the Kubernetes / KEDA JSON schemas
//      (npm kubernetes-models, @kubernetes-models/keda: ajv validators generated
//      from the Kubernetes OpenAPI document and the KEDA CRDs);
//   2. strict: no unknown field (lib/strict.mjs);
//   3. landscape's own rules: references resolve, ports and flags agree, probes,
//      security context, Redis persistence, KEDA on lag.
import fs from "node:fs";
import { createStrictChecker } from "./strict.mjs";
import { toolRequire, toolPath, toolsDir } from "./tools.mjs";
import {
  GRPC_PORT,
  API_METRICS_PORT,
  API_HTTP_PORT,
  DRAIN_MARGIN_S,
  OPERATOR_SECRETS,
  IMAGES,
  parseArgs,
  portOf,
} from "./contract.mjs";

const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass", "CustomResourceDefinition"]);

function modelLocation(apiVersion, kind) {
  const pkg = apiVersion.startsWith("keda.sh/") ? "@kubernetes-models/keda" : "kubernetes-models";
  return { module: `${pkg}/${apiVersion}/${kind}`, dts: [pkg, ...apiVersion.split("/"), `${kind}.d.ts`] };
}

export function ref(o) {
  return `${o?.kind || "?"}/${o?.metadata?.name || "?"}`;
}

// Schema + unknown-field validation of one object. Returns error strings.
export function createSchemaValidator(sourceDir) {
  const req = toolRequire(sourceDir);
  req("kubernetes-models"); // throws Skip when the tools are missing
  req("@kubernetes-models/keda");
  const strict = createStrictChecker(toolsDir(sourceDir));
  return function validate(obj) {
    if (!obj || typeof obj !== "object" || !obj.apiVersion || !obj.kind) return [`${ref(obj)}: not a Kubernetes object (apiVersion/kind missing)`];
    const loc = modelLocation(obj.apiVersion, obj.kind);
    let Model;
    try {
      Model = req(loc.module)[obj.kind];
    } catch {
      Model = undefined;
    }
    if (!Model) return [`${ref(obj)}: no schema for ${obj.apiVersion} ${obj.kind} (unknown kind or API version)`];
    const errors = [];
    try {
      new Model(obj).validate();
    } catch (e) {
      const list = Array.isArray(e.errors) && e.errors.length ? e.errors : null;
      if (list) {
        for (const x of list) errors.push(`${ref(obj)}: schema: ${x.instancePath || "/"} ${x.message}${x.params && x.params.allowedValues ? ` (${x.params.allowedValues.join(", ")})` : ""}`);
      } else {
        errors.push(`${ref(obj)}: schema: ${e.message}`);
      }
    }
    const dts = toolPath(sourceDir, ...loc.dts);
    if (!fs.existsSync(dts)) return [...errors, `${ref(obj)}: no declarations for ${obj.apiVersion} ${obj.kind}`];
    for (const x of strict(obj, dts, `I${obj.kind}`)) errors.push(`${ref(obj)}: ${x}`);
    return errors;
  };
}

// ---------------------------------------------------------------------------
// landscape's rules over one rendered overlay.

const isSubset = (small, big) => small && big && Object.entries(small).every(([k, v]) => big[k] === v);

function podTemplates(docs) {
  return docs.filter((d) => ["Deployment", "StatefulSet"].includes(d.kind));
}

function imageName(image) {
  // registry/name:tag@digest -> { name (without registry), tag }
  const noDigest = image.split("@")[0];
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  const hasTag = colon > slash;
  const full = hasTag ? noDigest.slice(0, colon) : noDigest;
  const tag = hasTag ? noDigest.slice(colon + 1) : null;
  const short = Object.keys(IMAGES).find((n) => full === n || full.endsWith(`/${n}`));
  return { full, short: short || full, tag, digest: image.includes("@") };
}

// Value of an environment variable in a container: from env or envFrom.
function envValue(container, name, docs) {
  for (const e of container.env || []) if (e.name === name) return e.value ?? null;
  for (const src of container.envFrom || []) {
    if (src.configMapRef) {
      const cm = docs.find((d) => d.kind === "ConfigMap" && d.metadata.name === src.configMapRef.name);
      if (cm && cm.data && name in cm.data) return cm.data[name];
    }
  }
  return undefined;
}

function containerPort(container, portRef) {
  return (container.ports || []).find((p) => (typeof portRef === "number" ? p.containerPort === portRef : p.name === portRef));
}

// The API's probes. With --http: readiness is GET /readyz on the --http port (503 while Redis is
// unreachable or the server stops). Liveness asks about the process only, never Redis (a Redis outage
// must not restart every API pod): a native gRPC probe of service "" on --listen, or GET /healthz on
// the --http port. Without --http both are native gRPC probes (readiness: the API's service name).
function checkApiProbes(w, c, args, listen, err) {
  const http = args.has("--http") ? portOf(args.get("--http")) : null;
  if (args.has("--http")) {
    if (http !== API_HTTP_PORT) err(w, `--http port ${http} is not the documented ${API_HTTP_PORT}`);
    const named = containerPort(c, "http");
    if (!named || named.containerPort !== http) err(w, `container port "http" (${named?.containerPort}) differs from --http port ${http}`);
  }
  const onHttp = (p) => p?.httpGet && (containerPort(c, p.httpGet.port)?.containerPort ?? p.httpGet.port) === http;
  const onListen = (p) => p?.grpc && p.grpc.port === listen;
  const r = c.readinessProbe, l = c.livenessProbe;
  if (http !== null) {
    if (!onHttp(r) || r.httpGet.path !== "/readyz") err(w, `readinessProbe must be httpGet /readyz on the --http port ${http}`);
  } else if (!onListen(r) || r.grpc.service !== "landscape.v1.LandscapeService") {
    err(w, `readinessProbe must be a native gRPC probe of landscape.v1.LandscapeService on the --listen port ${listen}`);
  }
  const liveHttp = http !== null && onHttp(l) && l.httpGet.path === "/healthz";
  const liveGrpc = onListen(l) && !l.grpc.service;
  if (!liveHttp && !liveGrpc) {
    err(w, `livenessProbe must be a native gRPC probe (service "") on the --listen port ${listen}` +
           (http !== null ? ` or httpGet /healthz on the --http port ${http}` : ""));
  }
}

function quantityToNumber(q) {
  if (q === undefined || q === null) return null;
  const s = String(q);
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  if (/^\d+m$/.test(s)) return Number(s.slice(0, -1)) / 1000;
  return null;
}

export function checkOverlay(docs, { overlay, version, flagsOf, queue }) {
  const errors = [];
  const err = (o, msg) => errors.push(`${ref(o)}: ${msg}`);
  const byKind = (k) => docs.filter((d) => d.kind === k);
  const find = (k, n) => docs.find((d) => d.kind === k && d.metadata?.name === n);

  for (const name of Object.keys(OPERATOR_SECRETS)) if (find("Secret", name)) err(find("Secret", name), "is the operator's: rendering it would overwrite their tokens on every apply");

  // -- names and namespace
  const seen = new Set();
  for (const d of docs) {
    const key = `${d.kind}/${d.metadata?.namespace || ""}/${d.metadata?.name}`;
    if (seen.has(key)) err(d, "defined twice");
    seen.add(key);
  }
  const namespaces = byKind("Namespace");
  if (namespaces.length !== 1) errors.push(`expected exactly one Namespace, found ${namespaces.length}`);
  const ns = namespaces[0]?.metadata?.name;
  for (const d of docs) {
    if (CLUSTER_SCOPED.has(d.kind)) continue;
    if (d.metadata?.namespace !== ns) err(d, `namespace is ${JSON.stringify(d.metadata?.namespace)}, expected ${JSON.stringify(ns)} (every object of the overlay in one namespace)`);
  }

  // -- workloads
  const workloads = podTemplates(docs);
  for (const w of workloads) {
    const tpl = w.spec?.template;
    const labels = tpl?.metadata?.labels || {};
    if (!isSubset(w.spec?.selector?.matchLabels, labels)) err(w, "selector.matchLabels does not select the pod template's labels");
    const pod = tpl?.spec || {};
    if (pod.automountServiceAccountToken !== false) err(w, "automountServiceAccountToken must be false (no pod talks to the Kubernetes API)");
    const psc = pod.securityContext || {};
    if (psc.runAsNonRoot !== true) err(w, "securityContext.runAsNonRoot must be true");
    if (!(psc.runAsUser > 0)) err(w, "securityContext.runAsUser must be a non-zero uid");
    const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
    for (const c of w.kind === "StatefulSet" ? w.spec.volumeClaimTemplates || [] : []) volumes.set(c.metadata.name, { pvc: c });
    for (const v of pod.volumes || []) {
      if (v.configMap && !find("ConfigMap", v.configMap.name)) err(w, `volume ${v.name}: ConfigMap ${v.configMap.name} is not in the overlay`);
      if (v.secret && !find("Secret", v.secret.secretName) && !OPERATOR_SECRETS[v.secret.secretName]) err(w, `volume ${v.name}: Secret ${v.secret.secretName} is not in the overlay`);
    }
    for (const c of pod.containers || []) {
      const where = `container ${c.name}`;
      const img = imageName(c.image || "");
      if (!img.tag && !img.digest) err(w, `${where}: image ${c.image} has no tag`);
      if (img.tag === "latest") err(w, `${where}: image ${c.image} uses :latest`);
      if (IMAGES[img.short] && img.tag !== version) err(w, `${where}: image ${c.image}: tag ${img.tag} is not the project version ${version}`);
      const res = c.resources || {};
      if (!res.requests?.memory || !res.limits?.memory) err(w, `${where}: memory request and limit are required`);
      if (!res.requests?.cpu) err(w, `${where}: cpu request is required`);
      const sc = c.securityContext || {};
      if (sc.allowPrivilegeEscalation !== false) err(w, `${where}: allowPrivilegeEscalation must be false`);
      if (sc.readOnlyRootFilesystem !== true) err(w, `${where}: readOnlyRootFilesystem must be true`);
      if (!(sc.capabilities?.drop || []).includes("ALL")) err(w, `${where}: capabilities must drop ALL`);
      for (const m of c.volumeMounts || []) if (!volumes.has(m.name)) err(w, `${where}: volumeMount ${m.name} has no volume`);
      for (const src of c.envFrom || []) {
        if (src.configMapRef && !find("ConfigMap", src.configMapRef.name)) err(w, `${where}: envFrom ConfigMap ${src.configMapRef.name} is not in the overlay`);
        if (src.secretRef && !find("Secret", src.secretRef.name)) err(w, `${where}: envFrom Secret ${src.secretRef.name} is not in the overlay`);
      }
      for (const probeName of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const p = c[probeName];
        if (!p) continue;
        const port = p.grpc?.port ?? p.httpGet?.port ?? p.tcpSocket?.port;
        if (port !== undefined && !containerPort(c, port)) err(w, `${where}: ${probeName} port ${port} is not a port of the container`);
      }
    }
  }

  // -- Services, budgets, network policies select real pods
  const selects = (selector) => workloads.filter((w) => selector && Object.keys(selector).length && isSubset(selector, w.spec.template.metadata.labels || {}));
  for (const s of byKind("Service")) {
    const targets = selects(s.spec?.selector);
    if (!targets.length) {
      err(s, "selector matches no workload");
      continue;
    }
    for (const p of s.spec.ports || []) {
      const tp = p.targetPort ?? p.port;
      for (const t of targets) {
        if (!t.spec.template.spec.containers.some((c) => containerPort(c, tp))) err(s, `port ${p.name || p.port}: targetPort ${tp} is not a container port of ${ref(t)}`);
      }
    }
  }
  for (const p of byKind("PodDisruptionBudget")) if (!selects(p.spec?.selector?.matchLabels).length) err(p, "selector matches no workload");
  for (const p of byKind("NetworkPolicy")) if (!selects(p.spec?.podSelector?.matchLabels).length) err(p, "podSelector matches no workload");

  // -- Redis: one primary, AOF on a persistent volume, behind a headless Service
  const redis = byKind("StatefulSet").find((s) => (s.spec.template.spec.containers || []).some((c) => /(^|\/)redis[:@]/.test(c.image || "")));
  let redisService = null;
  if (!redis) {
    errors.push("no Redis StatefulSet");
  } else {
    if (redis.spec.replicas !== 1) err(redis, "Redis must be a single primary (replicas: 1)");
    redisService = find("Service", redis.spec.serviceName);
    if (!redisService) err(redis, `serviceName ${redis.spec.serviceName} is not a Service of the overlay`);
    else if (redisService.spec.clusterIP !== "None") err(redisService, "the StatefulSet's governing Service must be headless (clusterIP: None)");
    if (!(redis.spec.volumeClaimTemplates || []).length) err(redis, "no volumeClaimTemplates: the AOF would not survive the pod");
    const c = redis.spec.template.spec.containers[0];
    const major = Number(((c.image || "").split(":")[1] || "").split(".")[0]);
    if (!(major >= 7)) err(redis, `image ${c.image}: Redis 7 or later is required (KEDA reads the consumer-group lag)`);
    const args = [...(c.command || []), ...(c.args || [])];
    const confPath = args.find((a) => a.endsWith(".conf"));
    let conf = null;
    if (confPath) {
      const mount = (c.volumeMounts || []).find((m) => confPath.startsWith(`${m.mountPath}/`));
      const vol = mount && (redis.spec.template.spec.volumes || []).find((v) => v.name === mount.name);
      const cm = vol?.configMap && find("ConfigMap", vol.configMap.name);
      const key = confPath.slice(mount ? mount.mountPath.length + 1 : 0);
      conf = cm?.data?.[key] ?? null;
      if (conf === null) err(redis, `${confPath} is not a key of a mounted ConfigMap`);
    }
    const setting = (name) => {
      if (conf !== null) {
        const m = conf.match(new RegExp(`^\\s*${name}\\s+(.+?)\\s*$`, "m"));
        if (m) return m[1];
      }
      const i = args.indexOf(`--${name}`);
      return i >= 0 ? args[i + 1] : undefined;
    };
    if (setting("appendonly") !== "yes") err(redis, "appendonly must be yes");
    if (setting("appendfsync") !== "everysec") err(redis, "appendfsync must be everysec");
    if (setting("maxmemory-policy") !== "noeviction") err(redis, "maxmemory-policy must be noeviction (the queue must never be evicted)");
    const dir = setting("dir") || "/data";
    const dataMount = (c.volumeMounts || []).find((m) => m.mountPath === dir);
    if (!dataMount || !(redis.spec.volumeClaimTemplates || []).some((t) => t.metadata.name === dataMount.name)) err(redis, `dir ${dir} is not on the PersistentVolumeClaim`);
    if (!(redisService?.spec?.ports || []).some((p) => p.port === Number(setting("port") || 6379))) err(redis, `the Service does not expose Redis's port ${setting("port") || 6379}`);
  }

  // The address of the Redis Service as a host in a pod of namespace ns,
  // or as a fully qualified host (for KEDA, which resolves from its own namespace).
  const redisHostOk = (host, { fullyQualified }) => {
    if (!redisService) return false;
    const n = redisService.metadata.name;
    const fq = [`${n}.${ns}.svc`, `${n}.${ns}.svc.cluster.local`, `${n}.${ns}`];
    return fullyQualified ? fq.includes(host) : [n, ...fq].includes(host);
  };
  const checkRedisUrl = (w, c, url) => {
    const m = /^redis:\/\/([^:/]+):(\d+)\/?$/.exec(url || "");
    if (!m) return err(w, `container ${c.name}: LANDSCAPE_REDIS ${JSON.stringify(url)} is not redis://HOST:PORT`);
    if (!redisHostOk(m[1], { fullyQualified: false })) err(w, `container ${c.name}: LANDSCAPE_REDIS host ${m[1]} is not the Redis Service of namespace ${ns}`);
    if (redisService && !redisService.spec.ports.some((p) => p.port === Number(m[2]))) err(w, `container ${c.name}: LANDSCAPE_REDIS port ${m[2]} is not a port of Service ${redisService.metadata.name}`);
  };

  // -- the API
  const apis = workloads.filter((w) => w.spec.template.spec.containers.some((c) => imageName(c.image).short === "landscape/api"));
  if (apis.length !== 1) errors.push(`expected one API Deployment (image landscape/api), found ${apis.length}`);
  for (const w of apis) {
    const c = w.spec.template.spec.containers.find((x) => imageName(x.image).short === "landscape/api");
    const { flags, source } = flagsOf("landscape-server");
    const args = parseArgs([...(c.command || []).slice(1), ...(c.args || [])]);
    for (const f of args.keys()) if (!flags.has(f)) err(w, `landscape-server has no flag ${f} (per ${source})`);
    const listen = portOf(args.get("--listen"));
    if (listen === null) err(w, "landscape-server needs --listen HOST:PORT");
    const grpc = containerPort(c, "grpc");
    if (!grpc || grpc.containerPort !== listen) err(w, `container port "grpc" (${grpc?.containerPort}) differs from --listen port ${listen}`);
    if (listen !== GRPC_PORT) err(w, `--listen port ${listen} is not the documented gRPC port ${GRPC_PORT}`);
    checkApiProbes(w, c, args, listen, err);
    const metrics = portOf(args.get("--metrics"));
    if (metrics !== API_METRICS_PORT) err(w, `--metrics port ${metrics} is not the documented ${API_METRICS_PORT}`);
    if (!containerPort(c, metrics ?? -1)) err(w, `--metrics port ${metrics} is not a container port`);
    const ann = w.spec.template.metadata.annotations || {};
    if (ann["prometheus.io/scrape"] !== "true" || Number(ann["prometheus.io/port"]) !== metrics) err(w, "prometheus.io/scrape and prometheus.io/port must announce the --metrics port");
    if (args.has("--tokens")) {
      const tokens = args.get("--tokens");
      const mount = (c.volumeMounts || []).find((m) => tokens.startsWith(`${m.mountPath}/`));
      const vol = mount && w.spec.template.spec.volumes.find((v) => v.name === mount.name);
      const file = mount ? tokens.slice(mount.mountPath.length + 1) : null;
      const items = vol?.secret?.items;
      const key = items ? items.find((i) => i.path === file)?.key : file;
      const name = vol?.secret?.secretName;
      const secret = name && find("Secret", name);
      const has = secret
        ? (secret.data && key in secret.data) || (secret.stringData && key in secret.stringData)
        : Boolean(name && OPERATOR_SECRETS[name]?.includes(key));
      if (!vol?.secret || !has) err(w, `--tokens ${tokens} is not a key of a mounted Secret`);
    } else {
      err(w, "the API must run with --tokens (bearer-token auth) in Kubernetes");
    }
    if (!args.has("--redis")) checkRedisUrl(w, c, envValue(c, "LANDSCAPE_REDIS", docs));
    else checkRedisUrl(w, c, args.get("--redis"));
    const preStop = Number(((c.lifecycle?.preStop?.exec?.command || []).join(" ").match(/^sleep (\d+)$/) || [])[1] || 0);
    const drain = Number(args.get("--drain") ?? 0);
    const grace = w.spec.template.spec.terminationGracePeriodSeconds ?? 30;
    if (!(grace >= preStop + drain + 5)) err(w, `terminationGracePeriodSeconds ${grace} must cover the preStop sleep (${preStop} s) and --drain (${drain} s) with a margin`);
    if (!(w.spec.replicas >= 2)) err(w, "run at least 2 API replicas (stateless; one can restart while the other serves)");
    const svc = byKind("Service").find((s) => isSubset(s.spec.selector, w.spec.template.metadata.labels));
    if (!svc || !svc.spec.ports.some((p) => p.port === GRPC_PORT)) err(w, `no Service exposes the API on port ${GRPC_PORT}`);
    if (!byKind("PodDisruptionBudget").some((p) => isSubset(p.spec.selector.matchLabels, w.spec.template.metadata.labels))) err(w, "no PodDisruptionBudget");
  }

  // -- the workers
  const workers = workloads.filter((w) => w.spec.template.spec.containers.some((c) => imageName(c.image).short.startsWith("landscape/worker")));
  if (workers.length !== 1) errors.push(`expected one worker Deployment (image landscape/worker-*), found ${workers.length}`);
  const expectedWorker = overlay === "gpu" ? "landscape/worker-cuda" : "landscape/worker-cpu";
  for (const w of workers) {
    const pod = w.spec.template.spec;
    const c = pod.containers.find((x) => imageName(x.image).short.startsWith("landscape/worker"));
    const img = imageName(c.image).short;
    if (img !== expectedWorker) err(w, `overlay ${overlay} should run ${expectedWorker}, runs ${img}`);
    const { flags, source } = flagsOf("landscape-worker");
    const args = parseArgs([...(c.command || []).slice(1), ...(c.args || [])]);
    for (const f of args.keys()) if (!flags.has(f)) err(w, `landscape-worker has no flag ${f} (per ${source})`);
    const device = args.get("--device") || "cpu";
    if (!/^(cpu|cuda(:\d+)?)$/.test(device)) err(w, `--device ${device} is not cpu|cuda[:N]`);
    const gpus = quantityToNumber(c.resources?.limits?.["nvidia.com/gpu"]);
    if (img === "landscape/worker-cuda") {
      if (!device.startsWith("cuda")) err(w, `the CUDA worker runs with --device ${device}`);
      if (!(gpus >= 1)) err(w, "the CUDA worker needs resources.limits nvidia.com/gpu");
      if (!pod.nodeSelector || !Object.keys(pod.nodeSelector).length) err(w, "the CUDA worker needs a nodeSelector for GPU nodes");
      if (!(pod.tolerations || []).some((t) => t.key === "nvidia.com/gpu")) err(w, "the CUDA worker needs a toleration for nvidia.com/gpu taints");
    } else {
      if (device !== "cpu") err(w, `the CPU worker runs with --device ${device}`);
      if (gpus) err(w, "the CPU worker asks for nvidia.com/gpu");
    }
    const threads = Number(args.get("--threads"));
    const cpuLimit = quantityToNumber(c.resources?.limits?.cpu);
    if (args.has("--threads") && cpuLimit !== null && threads > cpuLimit) err(w, `--threads ${threads} exceeds the cpu limit ${cpuLimit} (OpenMP threads on shared cores are slow)`);
    const drain = Number(args.get("--drain-timeout"));
    if (!args.has("--drain-timeout") || !(drain > 0)) err(w, "set --drain-timeout explicitly: the grace period is sized from it");
    else if (!(pod.terminationGracePeriodSeconds >= drain + DRAIN_MARGIN_S)) err(w, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} must exceed --drain-timeout ${drain} by ${DRAIN_MARGIN_S} s, or Kubernetes kills the worker mid-drain`);
    if ((c.ports || []).length) err(w, "the worker opens no port, yet the container declares some");
    if (args.has("--cache")) {
      const dir = args.get("--cache");
      if (!(c.volumeMounts || []).some((m) => m.mountPath === dir)) err(w, `--cache ${dir} is not a mounted volume (the root filesystem is read-only)`);
    }
    if (!args.has("--redis")) checkRedisUrl(w, c, envValue(c, "LANDSCAPE_REDIS", docs));
    else checkRedisUrl(w, c, args.get("--redis"));
    if (!byKind("PodDisruptionBudget").some((p) => isSubset(p.spec.selector.matchLabels, w.spec.template.metadata.labels))) err(w, "no PodDisruptionBudget");
  }

  // -- KEDA: scale the workers on the consumer group's lag
  const scaled = byKind("ScaledObject");
  if (scaled.length !== 1) errors.push(`expected one KEDA ScaledObject, found ${scaled.length}`);
  for (const so of scaled) {
    const target = find(so.spec.scaleTargetRef?.kind || "Deployment", so.spec.scaleTargetRef?.name);
    if (!target || !workers.includes(target)) {
      err(so, `scaleTargetRef ${so.spec.scaleTargetRef?.name} is not the worker Deployment`);
      continue;
    }
    if (!(so.spec.minReplicaCount <= so.spec.maxReplicaCount)) err(so, "minReplicaCount must not exceed maxReplicaCount");
    const triggers = so.spec.triggers || [];
    const rs = triggers.filter((t) => t.type === "redis-streams");
    if (rs.length !== 1 || triggers.length !== 1) err(so, "expected exactly one trigger, of type redis-streams");
    for (const t of rs) {
      const m = t.metadata || {};
      if (m.stream !== queue.stream) err(so, `trigger stream ${m.stream} is not the work stream ${queue.stream} (${queue.source})`);
      if (m.consumerGroup !== queue.group) err(so, `trigger consumerGroup ${m.consumerGroup} is not the workers' group ${queue.group} (${queue.source})`);
      if (!/^[1-9]\d*$/.test(m.lagCount || "")) err(so, "trigger must scale on lagCount (a positive integer): the consumer group's lag, not pending entries");
      if (m.activationLagCount === undefined) err(so, "trigger needs activationLagCount with lagCount");
      for (const other of ["pendingEntriesCount", "streamLength"]) if (other in m) err(so, `trigger sets ${other}: scale on lagCount only`);
      let address = m.address ?? (m.host ? `${m.host}:${m.port}` : undefined);
      if (m.addressFromEnv) {
        const c = target.spec.template.spec.containers.find((x) => x.name === so.spec.scaleTargetRef.envSourceContainerName) || target.spec.template.spec.containers[0];
        address = envValue(c, m.addressFromEnv, docs);
        if (address === undefined) err(so, `addressFromEnv ${m.addressFromEnv} is not set in container ${c.name} of ${ref(target)}`);
      }
      if (address !== undefined) {
        const am = /^([^:]+):(\d+)$/.exec(address || "");
        if (!am) err(so, `Redis address ${JSON.stringify(address)} is not host:port`);
        else {
          if (!redisHostOk(am[1], { fullyQualified: true })) err(so, `Redis address host ${am[1]} must name the Redis Service with its namespace (${redisService?.metadata?.name}.${ns}.svc): KEDA resolves it from its own namespace`);
          if (redisService && !redisService.spec.ports.some((p) => p.port === Number(am[2]))) err(so, `Redis address port ${am[2]} is not a port of the Redis Service`);
        }
      }
    }
  }
  return errors;
}
