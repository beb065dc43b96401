// Transpiles the engine component into `gen/` with jco: core wasm, JS glue and TypeScript types
// generated from the WIT. The component is an input of the build, never committed:
//
//   node scripts/transpile.mjs path/to/payhook_engine.wasm
//   PAYHOOK_ENGINE_WASM=path/to/payhook_engine.wasm npm run build
//
// Get the file with `cargo run -q -p payhook -- export-wasm payhook_engine.wasm` at the repo root.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transpile } from '@bytecodealliance/jco';

const OUT = fileURLToPath(new URL('../gen/', import.meta.url));
const NAME = 'engine';

const wasmPath = process.argv[2] ?? process.env.PAYHOOK_ENGINE_WASM;
if (!wasmPath) {
  console.error(
    'error: no component given. Pass its path (node scripts/transpile.mjs FILE) or set PAYHOOK_ENGINE_WASM;\n' +
      'export it at the repo root with `cargo run -q -p payhook -- export-wasm payhook_engine.wasm`.',
  );
  process.exit(2);
}

let wasm;
try {
  wasm = await readFile(wasmPath);
} catch (e) {
  console.error(`error: reading the component ${wasmPath}: ${e.message}`);
  process.exit(2);
}

// Synchronous instantiation: the package compiles the core module once and can instantiate it
// as often as it likes (a fresh instance per call, or a new one after a trap).
const { files, imports } = await transpile(wasm, { name: NAME, instantiation: 'sync', quiet: true });
if (imports.length > 0) {
  // The engine is sans-IO: a component that imports anything is not the engine.
  console.error(`error: the component imports ${imports.join(', ')}; the payhook engine imports nothing`);
  process.exit(1);
}

await rm(OUT, { recursive: true, force: true });
for (const [name, bytes] of Object.entries(files)) {
  const path = join(OUT, name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}
console.log(`transpiled ${wasmPath} (${wasm.length} bytes) into gen/: ${Object.keys(files).sort().join(', ')}`);
