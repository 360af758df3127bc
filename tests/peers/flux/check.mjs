// Parses Flux with libflux's own parser (the @influxdata/flux WebAssembly build).
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const pkg = dirname(require.resolve('@influxdata/flux/package.json'));
// The package is built for bundlers (its glue imports the .wasm, which imports the
// glue back): load the glue with the module import swapped for a setter instead.
const glue = readFileSync(join(pkg, 'flux.js'), 'utf8').replace(
  "import * as wasm from './flux_bg.wasm';",
  'let wasm; export function __setWasm(w) { wasm = w; }');
const dir = mkdtempSync(join(tmpdir(), 'flux-'));
writeFileSync(join(dir, 'flux.mjs'), glue);
const flux = await import(pathToFileURL(join(dir, 'flux.mjs')).href);
const module = new WebAssembly.Module(readFileSync(join(pkg, 'flux_bg.wasm')));
const imports = {};
for (const entry of WebAssembly.Module.imports(module)) {
  imports[entry.module] ??= {};
  imports[entry.module][entry.name] = flux[entry.name];
}
flux.__setWasm(new WebAssembly.Instance(module, imports).exports);

function errors(node, out = []) {
  if (Array.isArray(node)) { node.forEach((n) => errors(n, out)); return out; }
  if (node && typeof node === 'object') {
    if (Array.isArray(node.errors)) out.push(...node.errors.map((e) => e.msg ?? JSON.stringify(e)));
    for (const value of Object.values(node)) errors(value, out);
  }
  return out;
}
const queries = JSON.parse(readFileSync(0, 'utf8'));
console.log(JSON.stringify(queries.map((q) => errors(flux.parse(q)))));
