// Builds the bundles into dist/: the extension (Node, cjs, `vscode` external), the backend/CLI (Node; the
// extension forks `dist/cli.js serve` as the backend child process) and one per webview view (browser).
// `node esbuild.mjs --watch` rebuilds on change; `--production` minifies.
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  legalComments: 'linked',
};

/** @type {import('esbuild').BuildOptions[]} */
const builds = [
  {
    ...common,
    entryPoints: { extension: 'src/extension/extension.ts' },
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
  {
    ...common,
    entryPoints: { cli: 'src/cli/main.ts' },
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // A native addon: loaded from node_modules at run time, never bundled.
    external: ['onnxruntime-node'],
  },
  {
    ...common,
    // One bundle per view, so a page parses only its own code (Chart.js is half of the charts bundle);
    // minified always, so what the tests load is what ships.
    entryPoints: { 'webview-trajectory': 'webview/trajectory/main.ts', 'webview-charts': 'webview/charts/main.ts', 'webview-compare': 'webview/compare/main.ts' },
    outdir: 'dist',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    minify: true,
    loader: { '.css': 'text' },
  },
];

/** Reports each rebuild in the form VS Code's esbuild problem matcher expects. */
const problemMatcherPlugin = {
  name: 'problem-matcher',
  setup(build) {
    build.onStart(() => console.log('[watch] build started'));
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      console.log('[watch] build finished');
    });
  },
};

if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context({ ...b, plugins: [problemMatcherPlugin] })));
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
