// The VSIX's contents, as `.vscodeignore` selects them: `vsce ls` lists exactly the files `npm run package`
// puts into the package (the same ignore rules and npm dependency walk), so this proves the allow-list
// without the 40 s build. The installed package itself is exercised by test/vscode/scenarios/vsix-install.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');

function packagedFiles(): string[] {
  assert.ok(existsSync(join(ROOT, 'dist', 'extension.js')), 'dist/ is not built: run `node esbuild.mjs` first');
  const out = execFileSync(join(ROOT, 'node_modules', '.bin', 'vsce'), ['ls'], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  return out.split('\n').map((l) => l.trim()).filter(Boolean).sort();
}

test('the VSIX holds the extension, its runtime, the shipped model and the Python package — and nothing else', { timeout: 200_000 }, () => {
  const files = packagedFiles();
  const has = (f: string) => files.includes(f);

  for (const f of [
    'package.json', 'README.md', 'LICENSE',
    'dist/extension.js', 'dist/cli.js', 'dist/webview-trajectory.js', 'dist/webview-charts.js', 'dist/webview-compare.js',
    'media/icons/prpo-studio.svg',
    'models/tiny-vlm-shapes/config.json', 'models/tiny-vlm-shapes/weights.safetensors',
    'python/pyproject.toml', 'python/src/prpo_studio/__init__.py', 'python/src/prpo_studio/__main__.py',
    'node_modules/onnxruntime-node/package.json', 'node_modules/onnxruntime-node/dist/index.js',
    'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
    'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
    'node_modules/onnxruntime-common/package.json', 'node_modules/onnxruntime-common/dist/cjs/index.js',
  ]) {
    assert.ok(has(f), `${f} is missing from the VSIX (check .vscodeignore)`);
  }

  // Every image the README shows travels with it (the extension's details page renders it).
  const images = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]);
  assert.ok(images.length > 0, 'the README shows no image: update this test');
  for (const img of images.filter((i) => !/^https?:/.test(i))) assert.ok(has(img), `the README's image ${img} is not in the VSIX`);

  // Nothing from the toolchain, the sources, tests, benches, docs, the study model, or other platforms.
  const allowedTop = new Set(['package.json', 'README.md', 'LICENSE', 'dist', 'media', 'models', 'python', 'node_modules']);
  for (const f of files) {
    assert.ok(allowedTop.has(f.split('/')[0]), `${f} should not be in the VSIX`);
    assert.doesNotMatch(f, /\.map$|__pycache__|\.pyc$/, `${f}: build leftovers in the VSIX`);
    assert.doesNotMatch(f, /^python\/tests\//, `${f}: Python tests in the VSIX`);
    assert.doesNotMatch(f, /^models\/(?!tiny-vlm-shapes\/)/, `${f}: only the built-in model is shipped`);
    assert.doesNotMatch(f, /^node_modules\/(?!onnxruntime-(node|common)\/)/, `${f}: a dependency the bundles already hold`);
    assert.doesNotMatch(f, /\/napi-v6\/(?!linux\/x64\/)/, `${f}: another platform's onnxruntime binary`);
    assert.doesNotMatch(f, /^media\/screenshots\//.test(f) && !images.includes(f) ? /./ : /^$/, `${f}: a screenshot the README does not show`);
  }
  // The one native runtime is about 46 MB; the rest is small. A bound catches a platform or folder slipping in.
  assert.ok(files.length < 250, `${files.length} files in the VSIX: something slipped in`);
});
