// Unknown-field check for Kubernetes objects ("strict" validation, what
// kubectl's server-side field validation does): every key of a manifest must
// be a field of its type. The kubernetes-models validators check types,
// required fields and enums but accept unknown keys, so a misspelt field
// (livenessProbe.grcp) would pass them silently. The field lists come from the
// TypeScript declarations shipped with the same packages, read with the
// TypeScript compiler API.
import { createRequire } from "node:module";
import path from "node:path";

export function createStrictChecker(toolsDir) {
  const require = createRequire(path.join(toolsDir, "package.json"));
  const ts = require("typescript");
  const cache = new Map(); // declaration file -> { program, checker, sourceFile }

  function load(dtsFile) {
    if (!cache.has(dtsFile)) {
      const program = ts.createProgram([dtsFile], {
        noEmit: true,
        strict: true,
        skipLibCheck: true,
        types: [],
        moduleResolution: ts.ModuleResolutionKind.Node10,
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2020,
      });
      cache.set(dtsFile, { program, checker: program.getTypeChecker(), sourceFile: program.getSourceFile(dtsFile) });
    }
    return cache.get(dtsFile);
  }

  // Returns a list of "path: message" strings; empty when every key is known.
  return function check(obj, dtsFile, interfaceName) {
    const { checker, sourceFile } = load(dtsFile);
    if (!sourceFile) return [`no declarations at ${dtsFile}`];
    const moduleSymbol = checker.getSymbolAtLocation(sourceFile);
    const exported = moduleSymbol && checker.getExportsOfModule(moduleSymbol).find((s) => s.name === interfaceName);
    if (!exported) return [`${interfaceName} is not declared in ${dtsFile}`];
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const rootType = checker.getDeclaredTypeOfSymbol(symbol);
    const errors = [];

    const isPlainObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
    const objectParts = (type) =>
      (type.isUnion() ? type.types : [type]).filter(
        (t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null | ts.TypeFlags.StringLike | ts.TypeFlags.NumberLike | ts.TypeFlags.BooleanLike)),
      );

    function walk(value, type, where) {
      if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
      const parts = objectParts(type);
      if (parts.length === 0) return; // a scalar: the schema validator checks it
      if (Array.isArray(value)) {
        const arrayType = parts.find((t) => checker.isArrayType(t));
        if (!arrayType) return;
        const [element] = checker.getTypeArguments(arrayType);
        value.forEach((item, i) => walk(item, element, `${where}[${i}]`));
        return;
      }
      if (!isPlainObject(value)) return;
      // Pick the object type of a union that knows the most keys of the value.
      let best = null;
      let bestKnown = -1;
      for (const t of parts) {
        if (checker.isArrayType(t)) continue;
        const index = t.getStringIndexType();
        const known = index ? Infinity : Object.keys(value).filter((k) => t.getProperty(k)).length;
        if (known > bestKnown) {
          best = t;
          bestKnown = known;
        }
      }
      if (!best) return;
      const index = best.getStringIndexType();
      for (const [key, child] of Object.entries(value)) {
        const prop = best.getProperty(key);
        if (prop) {
          walk(child, checker.getTypeOfSymbol(prop), `${where}.${key}`);
        } else if (index) {
          walk(child, index, `${where}.${key}`);
        } else if (best.getProperties().length > 0) {
          errors.push(`${where}.${key}: unknown field (known: ${best.getProperties().map((p) => p.name).join(", ")})`);
        }
      }
    }
    walk(obj, rootType, "");
    return errors.map((e) => e.replace(/^\./, ""));
  };
}
