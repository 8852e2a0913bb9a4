// Seeded mutations of valid files for the reader fuzz tests (not a test file itself). A case is a list of
// small integer triples that one interpreter turns into byte-level damage (truncations, bit flips, invalid
// UTF-8, torn lines) or JSON-level damage (wrong types, huge numbers and lengths, deep nesting), so fast-check
// can shrink a failure to the fewest, smallest operations and replay it from the seed it prints.
import fc from 'fast-check';

/** Short mode (in `npm test`): a few hundred cases per reader. Long (`npm run fuzz`, PRPO_FUZZ=long): thousands. */
export const LONG = process.env.PRPO_FUZZ === 'long';
export const SEED = process.env.PRPO_FUZZ_SEED ? Number(process.env.PRPO_FUZZ_SEED) : 20261202;
export const RUNS = process.env.PRPO_FUZZ_RUNS ? Number(process.env.PRPO_FUZZ_RUNS) : LONG ? 2000 : 250;

/** Cases tried per reader in this process: printed at exit (the figures of docs/reliability.md). */
export const tally = new Map<string, number>();
process.on('exit', () => {
  if (!tally.size) return;
  const total = [...tally.values()].reduce((a, b) => a + b, 0);
  console.log(`fuzz (seed ${SEED}, ${LONG ? 'long' : 'short'}): ${total} cases — ${[...tally].map(([k, n]) => `${k} ${n}`).join(', ')}`);
});

/** fast-check parameters: the fixed seed (PRPO_FUZZ_SEED to replay), the mode's case count. */
export function params(name: string): fc.Parameters<unknown> {
  return {
    seed: SEED,
    numRuns: RUNS,
    reporter(out) {
      tally.set(name, (tally.get(name) ?? 0) + out.numRuns);
      if (out.failed) {
        throw new Error(`${name}: fuzz case failed — replay with PRPO_FUZZ_SEED=${out.seed} (path ${out.counterexamplePath})\n${String(out.errorInstance)}\n${fc.defaultReportMessage(out)}`);
      }
    },
  };
}

export type Op = [number, number, number];
/** One to four damage operations. */
export const ops = (): fc.Arbitrary<Op[]> => fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { minLength: 1, maxLength: 4 });

const enc = new TextEncoder();

/** Bytes that break UTF-8, JSON or line framing. */
const HOSTILE_BYTES: Uint8Array[] = [
  Uint8Array.of(0xff),
  Uint8Array.of(0xc3), // a lead byte without its continuation
  Uint8Array.of(0xe2, 0x80), // a torn 3-byte character
  Uint8Array.of(0xed, 0xa0, 0x80), // an encoded lone surrogate
  Uint8Array.of(0x00),
  Uint8Array.of(0x0a),
  Uint8Array.of(0x0d, 0x0a),
  Uint8Array.of(0xef, 0xbb, 0xbf), // a byte-order mark in the wrong place
  enc.encode('{'),
  enc.encode('"'),
  enc.encode(']'),
  enc.encode(',,'),
  enc.encode('\\u'),
];

/** Byte-level damage: truncation, bit flips, inserted hostile bytes, deletions, overwrites, duplications. */
export function mutateBytes(input: Uint8Array, list: Op[]): Uint8Array {
  let b = input;
  for (const [kind, a, c] of list) {
    const at = b.length ? a % (b.length + 1) : 0;
    switch (kind % 6) {
      case 0:
        b = b.subarray(0, at);
        break;
      case 1:
        if (b.length) {
          b = b.slice();
          b[a % b.length] ^= 1 << c % 8;
        }
        break;
      case 2: {
        const ins = HOSTILE_BYTES[c % HOSTILE_BYTES.length];
        b = concat(b.subarray(0, at), ins, b.subarray(at));
        break;
      }
      case 3:
        b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + (c % 32))));
        break;
      case 4:
        if (b.length) {
          b = b.slice();
          b[a % b.length] = c % 256;
        }
        break;
      default:
        b = concat(b.subarray(0, at), b.subarray(at, at + 1 + (c % 64)), b.subarray(at));
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const DEPTH = 20_000;
/** JSON texts that replace a value: wrong types, extreme numbers, huge strings and arrays, deep nesting, hostile text. */
const REPLACEMENTS: string[] = [
  'null',
  'true',
  '"x"',
  '""',
  '[]',
  '{}',
  '0',
  '-1',
  '1.5',
  '1e308',
  '-1e308',
  '1e999', // parses as Infinity
  '9007199254740993',
  '1000000000',
  '4294967296',
  '-0',
  '[null,"a",{}]',
  JSON.stringify('a'.repeat(1 << 20)), // 1 MB of text
  `[${'0,'.repeat(100_000)}0]`, // 100,001 entries
  '['.repeat(DEPTH) + ']'.repeat(DEPTH),
  '{"a":'.repeat(DEPTH) + '0' + '}'.repeat(DEPTH),
  '"\\ud800"', // a lone surrogate
  JSON.stringify('<script>alert(1)</script><img src=x onerror=alert(1)>\u202e\u0000\u001b[31m{{constructor}}${x}'),
  '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}',
  '"../../../../etc/passwd"',
];

const MARK = '\u0001FUZZ\u0001';

/** Paths to every value of a JSON document (objects and arrays walked; at most 200). */
function paths(v: unknown, at: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  if (out.length >= 200) return out;
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

/**
 * JSON-level damage to a document: each op replaces one value (or deletes a key) with a REPLACEMENTS entry,
 * or is applied as byte damage to the text. Returns the damaged text.
 */
export function mutateJson(doc: unknown, list: Op[]): string {
  let value: unknown = structuredClone(doc);
  const texts: string[] = [];
  const byteOps: Op[] = [];
  for (const op of list) {
    const [kind, a, c] = op;
    if (kind % 3 === 2) {
      byteOps.push([Math.floor(kind / 3), a, c]);
      continue;
    }
    const all = paths(value);
    const path = all[a % all.length];
    const replace = kind % 3 === 0 || path.length === 0;
    const snippet = REPLACEMENTS[c % REPLACEMENTS.length];
    if (path.length === 0) {
      value = `${MARK}${texts.length}`;
      texts.push(snippet);
      continue;
    }
    const parent = path.slice(0, -1).reduce<any>((o, k) => o[k], value);
    const key = path[path.length - 1];
    if (!replace && !Array.isArray(parent)) delete parent[key];
    else {
      parent[key] = `${MARK}${texts.length}`;
      texts.push(snippet);
    }
  }
  let text = JSON.stringify(value);
  texts.forEach((t, i) => (text = text.replace(JSON.stringify(`${MARK}${i}`), () => t)));
  if (!byteOps.length) return text;
  return new TextDecoder().decode(mutateBytes(enc.encode(text), byteOps));
}

/** Like mutateJson, but returns bytes, with byte damage applied after encoding (so invalid UTF-8 survives). */
export function mutateJsonBytes(doc: unknown, list: Op[]): Uint8Array {
  const jsonOps = list.filter(([k]) => k % 3 !== 2);
  const byteOps = list.filter(([k]) => k % 3 === 2).map(([k, a, c]): Op => [Math.floor(k / 3), a, c]);
  return mutateBytes(enc.encode(mutateJson(doc, jsonOps.length ? jsonOps : [])), byteOps);
}

/** Runs `fn`, returning the time it took (ms); the fuzz tests bound it to catch hangs, not to measure speed. */
export async function timed(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Far above any honest case (the slowest read here is a 1 MB line or a 20,000-deep document): a hang, not a slow run. */
export const HANG_MS = 5_000;
