/**
 * A stand-in for the extension host on a static page (bench/webview-bench.mjs, test pages): provides
 * `acquireVsCodeApi`, answers the webview's requests from synthetic steps, and streams rollouts on demand —
 * through the same protocol and packing (typed arrays, structured clone) as TrajectoryPanel.
 */
import type { RolloutRecord, MetricsRow } from '../src/core/run/schema';
import {
  ChartRun,
  ChartsInitNotification,
  GetImageRequest,
  GetDetailsRequest,
  GetStepPartRequest,
  GetStepRequest,
  IpcMessage,
  IpcNotification,
  IpcParams,
  IpcRequest,
  IpcResponse,
  IpcType,
  MetricsAppendedNotification,
  ReadyCommand,
  RolloutsAppendedNotification,
  TrajectoryInitNotification,
  WebviewRunInfo,
  messageOf,
  methodOf,
  replyOf,
} from '../src/core/protocol/webview';
import { packDetails, packRollouts } from '../src/core/view/pack';
import { stepRanges } from '../src/core/view/signals';
import { makeRollout, makeStep } from '../test/fixtures/webviewFixtures';

interface Sim {
  steps: Map<number, RolloutRecord[]>;
  run: WebviewRunInfo;
  commands: IpcMessage[];
  images: Map<string, string>;
  chartRuns: ChartRun[];
  packMs: number[];
}

/** What the benchmark page and script share through `window`. */
interface SimPage {
  __initialStep?: number;
  __simSetup?: { steps?: Array<[number, number, number, number, string?]>; hostileStep?: number; status?: WebviewRunInfo['status'] };
  __sim: {
    setStep(step: number, rollouts: number, groupSize: number, tokens: number, image?: string): void;
    setHostileStep(step: number): void;
    [k: string]: unknown;
  };
}
const page = window as unknown as SimPage;

const sim: Sim = {
  steps: new Map(),
  run: { id: 'bench', name: 'bench run', algorithm: 'prpo', source: 'prpo-studio', status: 'running', patchSize: 8 },
  commands: [],
  images: new Map(),
  chartRuns: [],
  packMs: [],
};

const post = (m: IpcMessage): void => {
  m.sentAt = Date.now();
  window.postMessage(m, '*');
};
const notify = <T extends IpcNotification<unknown>>(n: T, params: IpcParams<T>): void => post(messageOf(n, params));
const reply = <T extends IpcRequest<unknown, unknown>>(r: T, m: IpcMessage, result: IpcResponse<T>): void => post(replyOf(r, m, { result }));
const params = <T extends IpcType>(_t: T, m: IpcMessage): IpcParams<T> => m.params as IpcParams<T>;

(globalThis as unknown as { acquireVsCodeApi: () => unknown }).acquireVsCodeApi = () => {
  let state: unknown;
  return {
    getState: () => state,
    setState: (s: unknown) => (state = s),
    postMessage(m: IpcMessage) {
      sim.commands.push(m);
      switch (m.method) {
        case methodOf(ReadyCommand):
          if (params(ReadyCommand, m).scope === 'charts') notify(ChartsInitNotification, { runs: sim.chartRuns });
          else notify(TrajectoryInitNotification, { run: sim.run, steps: [...sim.steps.keys()].sort((a, b) => a - b), step: page.__initialStep });
          break;
        case methodOf(GetStepRequest): {
          // As TrajectoryPanel does: ranges over the whole step, the first rollouts in the reply with the columns
          // asked for (the webview asks for the others, and pulls the other rollouts).
          const { step, fields } = params(GetStepRequest, m);
          const all = sim.steps.get(step) ?? [];
          const t0 = performance.now();
          const ranges = stepRanges(all);
          const rollouts = packRollouts(step, all.slice(0, 48), { only: fields });
          sim.packMs.push(performance.now() - t0);
          reply(GetStepRequest, m, { rollouts, total: all.length, ranges, issues: [] });
          break;
        }
        case methodOf(GetDetailsRequest): {
          const { step, from, to, except } = params(GetDetailsRequest, m);
          reply(GetDetailsRequest, m, packDetails((sim.steps.get(step) ?? []).slice(from, to), except));
          break;
        }
        case methodOf(GetStepPartRequest): {
          const { step, from } = params(GetStepPartRequest, m);
          const all = sim.steps.get(step) ?? [];
          const to = Math.min(all.length, from + 128);
          reply(GetStepPartRequest, m, { rollouts: packRollouts(step, all.slice(from, to)), last: to >= all.length });
          break;
        }
        case methodOf(GetImageRequest): {
          const url = sim.images.get(params(GetImageRequest, m).image);
          reply(GetImageRequest, m, url ? { dataUrl: url } : { error: 'no such image' });
          break;
        }
      }
    },
  };
};

/** Control surface for the benchmark script (page.evaluate). */
page.__sim = {
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
    notify(MetricsAppendedNotification, { runId, rows });
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
        for (; i < due; i++) notify(RolloutsAppendedNotification, { rollouts: batches[i] });
        if (i < count) setTimeout(tick, 2);
        else resolve();
      };
      tick();
    });
  },
  perf: () => performance.getEntriesByType('mark').map((e) => ({ name: e.name, ms: (e as PerformanceMark).detail as number })),
};

// A page can describe its steps before the scripts run: window.__simSetup = { steps: [[step, rollouts, groupSize, tokens]], hostileStep }.
const setup = page.__simSetup;
for (const [step, n, g, t, image] of setup?.steps ?? []) page.__sim.setStep(step, n, g, t, image);
if (setup?.hostileStep !== undefined) page.__sim.setHostileStep(setup.hostileStep);
if (setup?.status) sim.run.status = setup.status;
