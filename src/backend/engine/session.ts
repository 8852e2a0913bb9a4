/**
 * onnxruntime sessions: execution-provider selection with a clear message and CPU fallback, and a cache
 * of sessions per graph shape (weights are inputs, so a session serves every step).
 */
import * as ort from 'onnxruntime-node';
import type { ExecutionProvider } from '../../core/protocol/backend';
import type { Graph } from './graph';

const HOW_TO: Record<ExecutionProvider, string> = {
  cpu: '',
  cuda:
    'The CUDA provider is not bundled: reinstall with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` on a machine that ' +
    'can reach its download, with CUDA 12 and cuDNN 9 on the library path.',
  webgpu: 'The WebGPU provider needs a GPU with a working Vulkan driver (libvulkan1 and the vendor ICD).',
};

export interface SessionOptions {
  ep: ExecutionProvider;
  threads?: number;
  /** Let idle intra-op threads spin (lower latency on an idle machine; much worse on a shared one). Default off. */
  spin?: boolean;
  onLog: (msg: string) => void;
}

/** onnxruntime session options for the engine's graphs. */
export function sessionOptions(ep: ExecutionProvider, threads?: number, spin = false): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    ...(threads ? { intraOpNumThreads: threads } : {}),
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: spin ? '1' : '0' } } },
  };
}

export class SessionPool {
  private sessions = new Map<string, Promise<ort.InferenceSession>>();
  ep: ExecutionProvider;

  constructor(private opts: SessionOptions) { this.ep = opts.ep; }

  private options(ep: ExecutionProvider) { return sessionOptions(ep, this.opts.threads, this.opts.spin); }

  /**
   * Creates a session on the requested provider; if that provider (or its libraries) is missing, says so
   * through onLog and falls back to CPU for this and every later session.
   */
  async create(bytes: Uint8Array): Promise<ort.InferenceSession> {
    if (this.ep === 'cpu') return ort.InferenceSession.create(bytes, this.options('cpu'));
    try {
      return await ort.InferenceSession.create(bytes, this.options(this.ep));
    } catch (e) {
      const first = String((e as Error).message ?? e).split('\n')[0];
      this.opts.onLog(`engine: execution provider '${this.ep}' is not available (${first}). ${HOW_TO[this.ep]} Falling back to CPU.`);
      this.ep = 'cpu';
      return ort.InferenceSession.create(bytes, this.options('cpu'));
    }
  }

  /** The session for `key`, building its graph on first use. */
  get(key: string, build: () => Graph): Promise<ort.InferenceSession> {
    let s = this.sessions.get(key);
    if (!s) {
      s = this.create(build().toBytes());
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  async dispose() {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s.catch(() => null))?.release();
  }
}
