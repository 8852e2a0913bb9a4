// Bundles the extension-host suite (test/vscode/extension-host/**/*.test.ts + framework.ts) into one
// CommonJS module whose `run()` VS Code calls — for code-server (runExtensionTests.ts) and desktop VS Code
// (test/desktop/runTest.ts) alike.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as esbuild from 'esbuild';
import { repoRoot } from './launcher';

export const SUITE_DIR = join(repoRoot, 'test', 'vscode', 'extension-host');

export function suiteFiles(dir = SUITE_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? suiteFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []))
    .sort();
}

/** Writes the bundle to `outFile` and returns the test files it contains. */
export async function buildExtensionHostSuite(outFile: string): Promise<string[]> {
  const files = suiteFiles();
  if (files.length === 0) throw new Error(`no tests in ${SUITE_DIR}`);
  const contents = [
    ...files.map((f) => `import './${relative(SUITE_DIR, f).replace(/\\/g, '/').replace(/\.ts$/, '')}';`),
    "export { run } from './framework';",
  ].join('\n');
  await esbuild.build({
    stdin: { contents, resolveDir: SUITE_DIR, loader: 'ts', sourcefile: 'extension-host-tests.ts' },
    bundle: true,
    outfile: outFile,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  return files;
}
