/**
 * What a trajectory view is told about its run, read from run.json. The keys are the ones the trainer writes:
 * `config.patchDropProb` and `config.mildSigma` (backend/trainer/config.ts, flattened into run.json's config)
 * and `model.config.patchSize`. Pure: no Node, vscode or DOM imports.
 */
import type { WebviewRunInfo } from '../protocol/webview';
import type { RunManifest, RunStatus } from '../run/schema';
import { CONFIG_KEYS } from '../algorithms/config';

const finite = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export function webviewRunInfo(m: RunManifest, status: RunStatus): WebviewRunInfo {
  const config = m.config ?? {};
  return {
    id: m.id,
    name: m.name,
    algorithm: m.algorithm,
    source: m.source,
    status,
    patchSize: finite(m.model?.config?.patchSize),
    mildSigma: finite(config.mildSigma),
    patchDropProb: finite(config.patchDropProb),
    algorithmConfig: Object.fromEntries(Object.entries(config).filter(([k]) => Object.hasOwn(CONFIG_KEYS, k))),
  };
}
