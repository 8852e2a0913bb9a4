#!/usr/bin/env node
/**
 * prpo-studio — the headless CLI. Subcommands:
 *   advantages   reshape a batch of rollouts' advantages (JSON in, JSON out)
 *   train        start a run            resume   continue a run from its latest checkpoint
 *   pretrain     supervised warm start of the built-in model
 *   jobs         training runs on a Ray cluster (its Jobs REST API)
 *   serve        the backend process the extension forks (JSON-RPC over the IPC channel)
 *   export-task  write the built-in shapes task as a dataset folder (data.jsonl + images/) for the PyTorch backend
 * Each subcommand lives in its own module and is loaded on demand.
 */
type Main = (argv: string[]) => Promise<number>;

const subcommands: Record<string, { summary: string; load: () => Promise<{ main: Main }> }> = {
  advantages: { summary: 'reshape advantages of a batch of rollouts (JSON on stdin or --input FILE)', load: () => import('./advantages') },
  train: { summary: 'start a training run: --preset prpo --steps N --runs-dir DIR …', load: () => import('./train') },
  resume: { summary: 'continue RUN_DIR from its latest checkpoint: resume RUN_DIR --steps N', load: () => import('./resume') },
  pretrain: { summary: 'supervised warm start of the built-in model on the shapes task', load: () => import('./pretrain') },
  jobs: { summary: 'training runs on a Ray cluster: jobs submit|resume|list|status|logs|stop --address URL …', load: () => import('./jobs') },
  'export-task': { summary: 'write the shapes task as a dataset folder: export-task shapes --out DIR --n N', load: () => import('./exportTask') },
  serve: { summary: 'run as the backend of the VS Code extension (JSON-RPC over the IPC channel)', load: () => import('./serve') },
};

function usage(): string {
  const lines = Object.entries(subcommands).map(([name, s]) => `  ${name.padEnd(12)} ${s.summary}`);
  return `usage: prpo-studio <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const sub = subcommands[name];
  if (!sub) {
    process.stderr.write(`prpo-studio: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  return (await sub.load()).main(rest);
}

if (require.main === module) {
  run(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`prpo-studio: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
