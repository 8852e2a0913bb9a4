// The folder layout is the architecture (DESIGN.md): these imports keep it honest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinModules } from 'node:module';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.(ts|tsx|js|mjs)$/.test(e.name) ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    specs.push(m[1] ?? m[2] ?? m[3]);
  }
  return specs;
}

const nodeBuiltins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

test('src/core imports neither vscode nor onnxruntime-node', () => {
  for (const file of sources('src/core')) {
    for (const spec of importsOf(file)) {
      assert.ok(spec !== 'vscode' && !spec.startsWith('onnxruntime'), `${file} imports ${spec}`);
    }
  }
});

test('only src/backend imports onnxruntime-node', () => {
  for (const dir of ['src/core', 'src/extension', 'webview']) {
    for (const file of sources(dir)) {
      for (const spec of importsOf(file)) assert.ok(!spec.startsWith('onnxruntime'), `${file} imports ${spec}`);
    }
  }
});

test('the webview imports no Node built-ins and no vscode', () => {
  for (const file of sources('webview')) {
    for (const spec of importsOf(file)) {
      assert.ok(!nodeBuiltins.has(spec) && spec !== 'vscode', `${file} imports ${spec}`);
    }
  }
});

test('only src/extension imports vscode', () => {
  for (const dir of ['src/core', 'src/backend', 'src/cli', 'webview']) {
    for (const file of sources(dir)) {
      for (const spec of importsOf(file)) assert.notEqual(spec, 'vscode', `${file} imports vscode`);
    }
  }
});
