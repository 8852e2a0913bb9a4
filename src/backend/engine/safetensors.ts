/**
 * safetensors (https://github.com/huggingface/safetensors) reader and writer for float32 tensors:
 * an 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__},
 * then the raw little-endian data. Small enough to own rather than depend on a package.
 */
export interface NamedTensor { name: string; shape: number[]; data: Float32Array }

export function writeSafetensors(tensors: NamedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: ${t.name} has ${t.data.length} values for shape [${t.shape}]`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // keep the data 8-byte aligned
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

export function readSafetensors(bytes: Uint8Array): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  const fail = (m: string): never => { throw new Error(`safetensors: ${m}`); };
  if (bytes.length < 8) fail(`file of ${bytes.length} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.length) fail(`header length ${n} exceeds the file (${bytes.length} bytes)`);
  let header: unknown;
  try { header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))); } catch (e) { return fail(`bad JSON header: ${(e as Error).message}`); }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) return fail('the header is not a JSON object');
  const base = 8 + n;
  const tensors = new Map<string, NamedTensor>();
  const isIndex = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    // A damaged or hostile header is refused before anything is allocated from its numbers.
    const { dtype, shape, data_offsets: offsets } = (info ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (dtype !== 'F32') fail(`${name} is ${typeof dtype === 'string' ? dtype.slice(0, 40) : `of no dtype (${dtype === null ? 'null' : typeof dtype})`}; only F32 is supported`);
    if (!Array.isArray(shape) || !shape.every(isIndex)) fail(`${name}: shape must be a list of sizes`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) fail(`${name}: data_offsets must be [begin, end]`);
    const [b, e] = offsets as [number, number];
    const count = (shape as number[]).reduce((x, y) => x * y, 1);
    if (e - b !== 4 * count || base + e > bytes.length) fail(`${name}: offsets [${b}, ${e}] do not fit shape [${shape}] and the file`);
    // Copy: the source offset need not be 4-byte aligned.
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(base + b, base + e));
    tensors.set(name, { name, shape: shape as number[], data });
  }
  const metadata = (header as Record<string, unknown>).__metadata__;
  if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) fail('__metadata__ must be an object');
  return { tensors, metadata: (metadata as Record<string, string> | undefined) ?? {} };
}
