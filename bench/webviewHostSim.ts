/**
 * A stand-in for the extension host on a static page (bench/webview-bench.mjs, test pages): provides
 * `acquireVsCodeApi`, answers the webview's requests from synthetic steps, and streams rollouts on demand —
 * through the same protocol and packing (typed arrays, structured clone) as TrajectoryPanel.
 */
import type { RolloutRecord, MetricsRow } from '../src/core/run/schema';
import { IpcMessage, packRollouts, replyMethod, RunInfo, ChartRun, stepRanges } from '../src/core/protocol/webview';
import { makeRollout, makeStep } from '../test/fixtures/webviewFixtures';

interface Sim {
  steps: Map<number, RolloutRecord[]>;
  run: RunInfo;
  perf: Array<{ name: string; ms: number }>;
  commands: IpcMessage[];
  images: Map<string, string>;
  chartRuns: ChartRun[];
  packMs: number[];
}

const sim: Sim = {
  steps: new Map(),
  run: { id: 'bench', name: 'bench run', algorithm: 'prpo', source: 'prpo-studio', status: 'running', patchSize: 8 },
  perf: [],
  commands: [],
  images: new Map(),
  chartRuns: [],
  packMs: [],
};

const post = (m: IpcMessage): void => {
  m.sentAt = Date.now();
  window.postMessage(m, '*');
};

(globalThis as unknown as { acquireVsCodeApi: () => unknown }).acquireVsCodeApi = () => {
  let state: unknown;
  return {
    getState: () => state,
    setState: (s: unknown) => (state = s),
    postMessage(m: IpcMessage) {
      sim.commands.push(m);
      switch (m.method) {
        case 'common/ready':
          if ((m.params as { scope: string }).scope === 'charts') post({ method: 'charts/init', params: { runs: sim.chartRuns } });
          else post({ method: 'trajectory/init', params: { run: sim.run, steps: [...sim.steps.keys()].sort((a, b) => a - b), step: (window as any).__initialStep } });
          break;
        case 'common/perf':
          sim.perf.push(m.params as { name: string; ms: number });
          break;
        case 'trajectory/getStep': {
          // As TrajectoryPanel does: ranges over the whole step, the first rollouts in the reply (the webview pulls the rest).
          const step = (m.params as { step: number }).step;
          const all = sim.steps.get(step) ?? [];
          const t0 = performance.now();
          const ranges = stepRanges(all);
          const rollouts = packRollouts(step, all.slice(0, 48));
          sim.packMs.push(performance.now() - t0);
          post({ method: replyMethod(m.method), id: m.id, params: { rollouts, total: all.length, ranges, issues: [] } });
          break;
        }
        case 'trajectory/getStepPart': {
          const { step, from } = m.params as { step: number; from: number };
          const all = sim.steps.get(step) ?? [];
          const to = Math.min(all.length, from + 128);
          post({ method: replyMethod(m.method), id: m.id, params: { rollouts: packRollouts(step, all.slice(from, to)), last: to >= all.length } });
          break;
        }
        case 'trajectory/getImage': {
          const url = sim.images.get((m.params as { image: string }).image);
          post({ method: replyMethod(m.method), id: m.id, params: url ? { dataUrl: url } : { error: 'no such image' } });
          break;
        }
      }
    },
  };
};

/** Control surface for the benchmark script (page.evaluate). */
(window as any).__sim = {
  sim,
  makeStep,
  setStep(step: number, rollouts: number, groupSize: number, tokens: number, image?: string) {
    sim.steps.set(step, makeStep(step, rollouts, groupSize, tokens, 1, image));
  },
  setHostileStep(step: number) {
    sim.steps.set(step, [makeRollout(step, 0, 'hostile', 70, 5, { hostile: true, prompt: 'Prompt with \u202Ereversed\u202C text and <script>alert(3)</script>' })]);
  },
  setImage(name: string, dataUrl: string) {
    sim.images.set(name, dataUrl);
  },
  setChartRuns(runs: ChartRun[]) {
    sim.chartRuns = runs;
  },
  appendMetrics(runId: string, rows: MetricsRow[]) {
    post({ method: 'charts/metricsAppended', params: { runId, rows } });
  },
  /** Streams `count` rollouts of `step` at `perSecond`, one message each; resolves when sent. */
  stream(step: number, count: number, perSecond: number, tokens = 120): Promise<void> {
    // Generated and packed up front: on this page the stand-in host shares the webview's thread, and in VS Code
    // that work happens in the extension host process.
    const batches = Array.from({ length: count }, (_, i) => packRollouts(step, [makeRollout(step, 100_000 + i, `live${Math.floor(i / 8)}`, tokens, 42 + i)]));
    return new Promise((resolve) => {
      let i = 0;
      const start = performance.now();
      const tick = (): void => {
        const due = Math.min(count, Math.floor(((performance.now() - start) / 1000) * perSecond) + 1);
        for (; i < due; i++) post({ method: 'trajectory/rolloutsAppended', params: { rollouts: batches[i] } });
        if (i < count) setTimeout(tick, 2);
        else resolve();
      };
      tick();
    });
  },
  perf: () => sim.perf,
};

// A page can describe its steps before the scripts run: window.__simSetup = { steps: [[step, rollouts, groupSize, tokens]], hostileStep }.
const setup = (window as any).__simSetup as { steps?: Array<[number, number, number, number, string?]>; hostileStep?: number; status?: RunInfo['status'] } | undefined;
for (const [step, n, g, t, image] of setup?.steps ?? []) (window as any).__sim.setStep(step, n, g, t, image);
if (setup?.hostileStep !== undefined) (window as any).__sim.setHostileStep(setup.hostileStep);
if (setup?.status) sim.run.status = setup.status;
