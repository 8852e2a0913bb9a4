// Which execution provider runs each node of the engine's graphs: `node --import tsx bench/placement.ts
// --ep webgpu|cuda|cpu`. Creates a session per graph of the default model with onnxruntime's verbose log,
// whose "Node placements" lines (written to stderr by onnxruntime itself) name the nodes left on the CPU;
// parsePlacements reads them back. Run by `npm run gpucheck` on a GPU machine; on CPU it checks the parse.
import * as ort from 'onnxruntime-node';
import { buildDecodeGraph, buildPolicyGraph, buildPrefillGraph, buildScoreGraph, modelConfig } from '../src/backend/engine/model';
import { sessionOptions } from '../src/backend/engine/session';
import type { ExecutionProvider } from '../src/core/protocol/backend';

export interface Placement {
  /** Nodes per provider, e.g. { WebGpuExecutionProvider: 410, CPUExecutionProvider: 12 }. */
  nodes: Record<string, number>;
  /** Op types of the nodes placed on the CPU provider (when another provider was asked for), with counts. */
  cpuOps: Record<string, number>;
}

/** Reads onnxruntime's verbose "Node placements" block (one per session created) from its log text. */
export function parsePlacements(log: string): Placement[] {
  const out: Placement[] = [];
  let cur: Placement | undefined;
  let provider: string | undefined;
  for (const line of log.split('\n')) {
    if (/Node placements/.test(line)) {
      cur = { nodes: {}, cpuOps: {} };
      out.push(cur);
      provider = undefined;
      continue;
    }
    if (!cur) continue;
    const placed = /(?:All nodes|Node\(s\)) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    if (placed) {
      provider = placed[1];
      cur.nodes[provider] = Number(placed[2]);
      continue;
    }
    // The nodes of a block follow as "  OpType (node name)" lines.
    const node = /^\s+(\w+) \(.*\)\s*$/.exec(line);
    if (node && provider === 'CPUExecutionProvider') cur.cpuOps[node[1]] = (cur.cpuOps[node[1]] ?? 0) + 1;
    else if (!node) provider = undefined; // the next log line ends the block's node list
  }
  return out;
}

/** The graphs a training step and sampling use, for the default model (batch 4, so that the probe is quick). */
export function engineGraphs() {
  const c = modelConfig({ vocabSize: 80, imageSize: 32, patchSize: 8 }, { maxText: 48 });
  return [
    { name: 'score', graph: buildScoreGraph(c, 4, c.maxText, false) },
    { name: 'policy (fwd+bwd)', graph: buildPolicyGraph(c, 4, c.maxText) },
    { name: 'prefill', graph: buildPrefillGraph(c, 4, 12) },
    { name: 'decode', graph: buildDecodeGraph(c, 4) },
  ];
}

async function main() {
  const i = process.argv.indexOf('--ep');
  const ep = (i > 0 ? process.argv[i + 1] : 'cpu') as ExecutionProvider;
  for (const { name, graph } of engineGraphs()) {
    // The marker line lets the caller split onnxruntime's stderr by graph.
    process.stderr.write(`=== graph ${name}\n`);
    try {
      const s = await ort.InferenceSession.create(graph.toBytes(), { ...sessionOptions(ep, 2), logSeverityLevel: 0, logVerbosityLevel: 0 });
      await s.release();
      console.log(JSON.stringify({ graph: name, ep, created: true }));
    } catch (e) {
      console.log(JSON.stringify({ graph: name, ep, created: false, error: String((e as Error).message ?? e).split('\n')[0] }));
    }
  }
}

if (process.argv[1] && /placement\.(ts|mjs|js)$/.test(process.argv[1])) main().catch((e) => { console.error(e); process.exit(1); });
