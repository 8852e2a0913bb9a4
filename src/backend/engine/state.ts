/**
 * The engine's state as safetensors bytes: the weights (with the model config in their metadata, so a
 * checkpoint of another model is refused) and AdamW's moments and step count.
 */
import type { AdamW } from './adamw';
import { paramShapes, type ModelConfig } from './model';
import { readSafetensors, writeSafetensors } from './safetensors';

export function saveState(config: ModelConfig, weights: Map<string, Float32Array>, opt: AdamW): { weights: Uint8Array; optimizer: Uint8Array } {
  const shapes = new Map(paramShapes(config));
  const w = writeSafetensors(
    [...weights].map(([name, data]) => ({ name, shape: shapes.get(name)!, data })),
    { format: 'prpo-tiny-vlm', config: JSON.stringify(config) },
  );
  const moments = [...opt.m.keys()].flatMap((name) => [
    { name: `m.${name}`, shape: shapes.get(name)!, data: opt.m.get(name)! },
    { name: `v.${name}`, shape: shapes.get(name)!, data: opt.v.get(name)! },
  ]);
  const optimizer = writeSafetensors(moments, { step: String(opt.step), config: JSON.stringify(opt.cfg) });
  return { weights: w, optimizer };
}

/** Loads `state` into `weights` (in place) and, when given, the optimizer; checks names, shapes and the model config first. */
export function loadState(config: ModelConfig, weights: Map<string, Float32Array>, opt: AdamW, state: { weights: Uint8Array; optimizer?: Uint8Array }): void {
  const { tensors, metadata } = readSafetensors(state.weights);
  if (metadata.config) {
    const saved = JSON.parse(metadata.config) as ModelConfig;
    const diff = (Object.keys(config) as (keyof ModelConfig)[]).filter((k) => saved[k] !== config[k]);
    if (diff.length) throw new Error(`engine: weights were saved for a different model (${diff.map((k) => `${k} ${saved[k]} ≠ ${config[k]}`).join(', ')})`);
  }
  const shapes = paramShapes(config);
  for (const [name, shape] of shapes) {
    const t = tensors.get(name);
    if (!t) throw new Error(`engine: weights lack tensor '${name}'`);
    if (t.shape.join(',') !== shape.join(',')) throw new Error(`engine: tensor '${name}' has shape [${t.shape}], model needs [${shape}]`);
  }
  for (const [name] of shapes) weights.get(name)!.set(tensors.get(name)!.data);
  if (state.optimizer) {
    const o = readSafetensors(state.optimizer);
    opt.m.clear();
    opt.v.clear();
    for (const [name] of shapes) {
      const m = o.tensors.get(`m.${name}`), v = o.tensors.get(`v.${name}`);
      if (m && v) { opt.m.set(name, m.data); opt.v.set(name, v.data); }
    }
    opt.step = Number(o.metadata.step ?? 0);
  }
}
