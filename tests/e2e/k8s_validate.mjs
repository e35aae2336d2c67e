// Validates Kubernetes objects offline against the Kubernetes OpenAPI
// schemas (kubernetes-models, generated from the API server's OpenAPI
// spec) and the CRD schemas of Istio, Argo CD and the Prometheus Operator
// (@kubernetes-models/*, generated from their CRDs).
//   node k8s_validate.mjs FILE...    (multi-document YAML)
// Prints one line "KIND NAME" per valid object and a JSON summary
// {"kinds": {...}} on the last line; exits 1 on the first file with an
// invalid object, an unknown apiVersion/kind or a YAML error.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const PACKAGES = [
  "kubernetes-models",
  "@kubernetes-models/istio",
  "@kubernetes-models/argo-cd",
  "@kubernetes-models/prometheus-operator",
];

async function modelFor(apiVersion, kind) {
  for (const pkg of PACKAGES) {
    try {
      const mod = await import(`${pkg}/${apiVersion}/${kind}`);
      if (mod[kind]) return mod[kind];
    } catch (e) {
      if (e.code !== "ERR_MODULE_NOT_FOUND" &&
          e.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw e;
    }
  }
  return null;
}

const kinds = {};
let bad = 0;
for (const file of process.argv.slice(2)) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  for (const doc of docs) {
    if (doc.errors.length) {
      console.error(`${file}: YAML error: ${doc.errors[0].message}`);
      bad++;
      continue;
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    const where = `${file}: ${obj.kind} ${obj.metadata?.name}`;
    if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) {
      console.error(`${where}: apiVersion, kind and metadata.name are required`);
      bad++;
      continue;
    }
    const Model = await modelFor(obj.apiVersion, obj.kind);
    if (!Model) {
      console.error(`${where}: no schema for ${obj.apiVersion} ${obj.kind}`);
      bad++;
      continue;
    }
    try {
      new Model(obj).validate();
    } catch (e) {
      console.error(`${where}: ${e.message}`);
      bad++;
      continue;
    }
    kinds[obj.kind] = (kinds[obj.kind] || 0) + 1;
    console.log(`${obj.kind} ${obj.metadata.name}`);
  }
}
console.log(JSON.stringify({ kinds }));
process.exit(bad ? 1 : 0);
