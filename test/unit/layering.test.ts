// The folder layout is the architecture (DESIGN.md): these checks keep it honest. Imports are read by esbuild —
// the bundler that builds dist/, so every form it bundles counts: `import … from`, bare `import 'x'`,
// `export … from`, `import()`, `require()` — plus the type-only imports the build erases. Relative imports are
// resolved to files and each edge is checked against the layer rules below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import * as esbuild from 'esbuild';

const ROOT = resolve('.');
const rel = (file: string): string => relative(ROOT, file).split('\\').join('/');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.(ts|tsx|mts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [resolve(p)] : [];
  });
}

export interface ImportRef {
  spec: string;
  /** Erased at build time (`import type`, `export type`). */
  typeOnly: boolean;
}

/** Type-only imports and re-exports, which the build erases (one statement may span lines). */
const TYPE_ONLY = /^[ \t]*(?:import|export)[ \t]+type\b[^;'"]*?\bfrom[ \t]*['"]([^'"]+)['"]/gm;

/** Every module a source text imports, in all the forms the bundler knows, and the type-only ones. */
export function importsOfText(text: string, file = 'x.ts'): ImportRef[] {
  const built = esbuild.buildSync({
    stdin: { contents: text, loader: file.endsWith('.js') || file.endsWith('.mjs') ? 'js' : 'ts', resolveDir: dirname(resolve(file)), sourcefile: file },
    bundle: true,
    write: false,
    metafile: true,
    external: ['*'],
    platform: 'neutral',
    format: 'esm',
    logLevel: 'silent',
  });
  const input = Object.values(built.metafile.inputs)[0];
  const runtime = (input?.imports ?? []).map((i) => ({ spec: i.path, typeOnly: false }));
  const erased = [...text.matchAll(TYPE_ONLY)].map((m) => ({ spec: m[1], typeOnly: true }));
  return [...runtime, ...erased];
}

const importsOf = (file: string): ImportRef[] => importsOfText(readFileSync(file, 'utf8'), file);

/** The file a relative specifier names (TypeScript's bundler resolution: extensionless, or a folder's index). */
function resolveRelative(from: string, spec: string): string {
  const base = resolve(dirname(from), spec);
  const candidates = [base, ...['.ts', '.tsx', '.mts', '.js', '.mjs'].map((e) => base + e), ...['index.ts', 'index.js'].map((i) => join(base, i))];
  const hit = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  assert.ok(hit, `${rel(from)} imports ${spec}, which resolves to no file`);
  return hit!;
}

const isRelative = (spec: string): boolean => spec.startsWith('./') || spec.startsWith('../');
const nodeBuiltins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const isNodeBuiltin = (spec: string): boolean => spec.startsWith('node:') || nodeBuiltins.has(spec) || nodeBuiltins.has(spec.split('/')[0]);

type Layer = 'core' | 'backend' | 'cli' | 'extension' | 'webview';
const LAYERS: Record<Layer, string> = { core: 'src/core/', backend: 'src/backend/', cli: 'src/cli/', extension: 'src/extension/', webview: 'webview/' };

function layerOf(file: string): Layer | undefined {
  const r = rel(file);
  return (Object.keys(LAYERS) as Layer[]).find((l) => r.startsWith(LAYERS[l]));
}

/** Which layers a layer may import (itself included). */
export const ALLOWED: Record<Layer, readonly Layer[]> = {
  core: ['core'],
  backend: ['backend', 'core'],
  cli: ['cli', 'backend', 'core'],
  extension: ['extension', 'core'],
  webview: ['webview', 'core'],
};

/** Packages only some layers may import. */
const PACKAGE_RULES: Array<{ pkg: (spec: string) => boolean; name: string; only: readonly Layer[] }> = [
  { pkg: (s) => s === 'vscode', name: 'vscode', only: ['extension'] },
  { pkg: (s) => s.startsWith('onnxruntime'), name: 'onnxruntime', only: ['backend'] },
];

/** The layer-crossing problems of one file's imports: wrong-way relative edges and misplaced packages. */
function edgeProblems(file: string, refs: readonly ImportRef[], resolveSpec: (spec: string) => string): string[] {
  const from = layerOf(file);
  if (!from) return [];
  const problems: string[] = [];
  for (const { spec } of refs) {
    if (isRelative(spec)) {
      const target = resolveSpec(spec);
      const to = layerOf(target);
      if (!to || !ALLOWED[from].includes(to)) problems.push(`${rel(file)} (${from}) imports ${rel(target)} (${to ?? 'outside the layers'})`);
      continue;
    }
    for (const rule of PACKAGE_RULES) if (rule.pkg(spec) && !rule.only.includes(from)) problems.push(`${rel(file)} (${from}) imports ${spec}, which only ${rule.only.join(', ')} may`);
    if (from === 'webview' && isNodeBuiltin(spec)) problems.push(`${rel(file)} (webview) imports the Node built-in ${spec}`);
  }
  return problems;
}

/** Every layer-crossing problem of the files given. */
export function layeringProblems(files: readonly string[]): string[] {
  return files.flatMap((file) => edgeProblems(file, importsOf(file), (spec) => resolveRelative(file, spec)));
}

/** The files a bundle's entry reaches through imports that survive the build (type-only ones are erased). */
export function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const stack = [resolve(entry)];
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const { spec, typeOnly } of importsOf(file)) {
      if (typeOnly || !isRelative(spec)) continue;
      const target = resolveRelative(file, spec);
      if (/\.(ts|tsx|mts|js|mjs)$/.test(target)) stack.push(target); // not the stylesheet the bundle loads as text
    }
  }
  return seen;
}

const NODE_GLOBALS = ['process', 'Buffer', '__dirname', '__filename', 'require', 'global'];

/**
 * Node APIs a browser bundle cannot have: Node built-in imports, and Node's globals. Globals are found by letting
 * esbuild replace each free reference with a marker (`define` touches code only: not strings, comments or `x.process`).
 */
export function nodeApiUses(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const uses = importsOf(file).filter((i) => !i.typeOnly && isNodeBuiltin(i.spec)).map((i) => `imports ${i.spec}`);
  const define = Object.fromEntries(NODE_GLOBALS.map((g) => [g, `__NODE_API_${g}`]));
  const { code } = esbuild.transformSync(text, { loader: 'ts', define, logLevel: 'silent' });
  for (const m of new Set(code.match(/__NODE_API_\w+/g) ?? [])) uses.push(`uses ${m.slice('__NODE_API_'.length)}`);
  return uses;
}

test('the import reader sees every form of import, and which ones are erased', () => {
  const refs = importsOfText(`
    import 'side-effect';
    import a from './a';
    import {
      b,
      c,
    } from './bc';
    import type { T } from './types';
    export { d } from './d';
    export type {
      V,
    } from './v';
    const e = await import('./e');
    const f = require('node:fs');
    // import 'not-in-a-comment';
    const s = "import 'not-in-a-string'";
    console.log(a, b, c, e, f, s);
  `);
  assert.deepEqual(
    refs.sort((x, y) => x.spec.localeCompare(y.spec)),
    [
      { spec: './a', typeOnly: false },
      { spec: './bc', typeOnly: false },
      { spec: './d', typeOnly: false },
      { spec: './e', typeOnly: false },
      { spec: './types', typeOnly: true },
      { spec: './v', typeOnly: true },
      { spec: 'node:fs', typeOnly: false },
      { spec: 'side-effect', typeOnly: false },
    ],
  );
});

test('the layers import only the layers below them: core → nothing; backend → core; cli → backend, core; extension → core; webview → core', () => {
  const files = ['src', 'webview'].flatMap(sources);
  assert.ok(files.length > 80, `found ${files.length} source files`);
  assert.deepEqual(layeringProblems(files), []);
});

test('the core files in the webview bundles use no Node API', () => {
  const bundled = new Set(['trajectory', 'charts', 'compare'].flatMap((view) => [...reachable(`webview/${view}/main.ts`)]));
  const core = [...bundled].filter((f) => layerOf(f) === 'core');
  // The bundle does reach into core (the protocol, the scales, the packing, the field catalogue).
  for (const f of ['src/core/protocol/webview.ts', 'src/core/view/signals.ts', 'src/core/view/pack.ts', 'src/core/run/tokenFields.ts']) assert.ok(bundled.has(resolve(f)), `${f} is in the webview bundle`);
  const problems = core.flatMap((f) => nodeApiUses(f).map((u) => `${rel(f)} ${u}`));
  assert.deepEqual(problems, []);
  // Every webview file is checked too (the bundle is built for the browser).
  assert.deepEqual([...bundled].filter((f) => layerOf(f) === 'webview').flatMap((f) => nodeApiUses(f).map((u) => `${rel(f)} ${u}`)), []);
});

test('the checks fail on the imports they forbid', () => {
  // The same check on files as they would read: a relative edge the wrong way, a package in the wrong layer, a
  // bare import, a re-export and a dynamic import are each reported.
  const probe = (file: string, text: string): string[] => edgeProblems(resolve(file), importsOfText(text, file), (spec) => resolve(dirname(resolve(file)), spec));
  assert.deepEqual(probe('src/core/run/x.ts', `import { Trainer } from '../../backend/trainer/trainer';`), ['src/core/run/x.ts (core) imports src/backend/trainer/trainer (backend)']);
  assert.deepEqual(probe('src/extension/x.ts', `import '../backend/engine';`), ['src/extension/x.ts (extension) imports src/backend/engine (backend)']);
  assert.deepEqual(probe('src/core/x.ts', `import 'vscode';`), ['src/core/x.ts (core) imports vscode, which only extension may']);
  assert.deepEqual(probe('webview/x.ts', `import 'node:fs';`), ['webview/x.ts (webview) imports the Node built-in node:fs']);
  assert.deepEqual(probe('webview/x.ts', `export { h } from '../src/extension/x';`), ['webview/x.ts (webview) imports src/extension/x (extension)']);
  assert.deepEqual(probe('src/backend/x.ts', `const m = await import('../extension/y'); void m;`), ['src/backend/x.ts (backend) imports src/extension/y (extension)']);
  assert.deepEqual(probe('src/cli/x.ts', `import type { X } from '../extension/y';`), ['src/cli/x.ts (cli) imports src/extension/y (extension)']);
  assert.deepEqual(probe('src/cli/x.ts', `import { Trainer } from '../backend/trainer/trainer'; import { fmt } from '../core/format';`), []);
});
