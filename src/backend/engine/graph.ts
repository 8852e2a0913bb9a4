/**
 * A small graph builder that emits ONNX, with reverse-mode differentiation in the style of micrograd:
 * every differentiable op is one function that checks shapes, emits its forward node(s) and returns a
 * tensor holding its gradient rule (a closure that emits the backward as standard ONNX ops).
 *
 * Shapes are concrete (batch and sequence sizes are bucketed by the caller), so every shape mistake
 * fails here, at build time, naming the op and the shapes involved.
 */
import { encodeModel, type DType, type NodeSpec, type TensorInit, type ValueSpec } from './onnx';

export type Shape = number[];
/**
 * A gradient rule maps the output's gradient to one gradient per input (null: none). A rule may return a
 * `SlicePiece` (the gradient of a slice of that input): `gradients()` joins the pieces of one axis with a
 * single Concat (zeros in the gaps) instead of padding each piece to full size and adding.
 */
type GradRule = (gy: Tensor) => (Tensor | SlicePiece | null)[];
export interface SlicePiece { piece: Tensor; axis: number; start: number }

export class GraphError extends Error {}

export class Tensor {
  readonly requiresGrad: boolean;
  constructor(
    readonly g: Graph,
    readonly name: string,
    readonly shape: Shape,
    readonly dtype: DType,
    readonly parents: Tensor[] = [],
    readonly backward?: GradRule,
    requiresGrad = false,
  ) {
    this.requiresGrad = requiresGrad || (backward !== undefined && parents.some((p) => p.requiresGrad));
  }
  get rank() { return this.shape.length; }
  get size() { return this.shape.reduce((a, b) => a * b, 1); }
}

const fmt = (s: Shape) => `[${s.join(',')}]`;

export class Graph {
  nodes: NodeSpec[] = [];
  inputs: ValueSpec[] = [];
  outputs: ValueSpec[] = [];
  initializers: TensorInit[] = [];
  private count = 0;
  private consts = new Map<string, Tensor>();

  /** `ft` is the floating type of the whole graph: float32 for the model, float64 for gradient checks. */
  constructor(readonly name: string, readonly ft: 'float' | 'double' = 'float') {}

  fresh(hint: string) { return `${hint}_${this.count++}`; }

  input(name: string, shape: Shape, opts: { dtype?: DType; grad?: boolean } = {}): Tensor {
    const dtype = opts.dtype ?? this.ft;
    if (this.inputs.some((i) => i.name === name)) throw new GraphError(`input ${name} declared twice`);
    this.inputs.push({ name, dtype, shape });
    return new Tensor(this, name, shape, dtype, [], undefined, opts.grad ?? false);
  }

  output(t: Tensor, name: string) {
    this.nodes.push({ op: 'Identity', inputs: [t.name], outputs: [name] });
    this.outputs.push({ name, dtype: t.dtype, shape: t.shape });
  }

  /** Emits one raw node and returns its output names (no shape inference: callers give shapes). */
  emit(op: string, inputs: Tensor[], nOut = 1, attrs?: NodeSpec['attrs']): string[] {
    const outs = Array.from({ length: nOut }, () => this.fresh(op));
    this.nodes.push({ op, inputs: inputs.map((i) => i.name), outputs: outs, attrs });
    return outs;
  }

  /** A non-differentiable constant (memoised by content). */
  constant(values: ArrayLike<number>, shape: Shape, dtype: DType = this.ft): Tensor {
    const key = `${dtype}|${fmt(shape)}|${Array.from(values).join(',')}`;
    const hit = this.consts.get(key);
    if (hit) return hit;
    const raw = dtype === 'float' ? new Float32Array(values)
      : dtype === 'double' ? new Float64Array(values)
      : dtype === 'int64' ? BigInt64Array.from(Array.from(values), (v) => BigInt(v))
      : Uint8Array.from(values);
    const name = this.fresh('const');
    this.initializers.push({ name, dtype, dims: shape, raw: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) });
    const t = new Tensor(this, name, shape, dtype);
    this.consts.set(key, t);
    return t;
  }
  scalar(v: number) { return this.constant([v], []); }
  ints(v: number[]) { return this.constant(v, [v.length], 'int64'); }

  toBytes(): Uint8Array {
    return encodeModel({ name: this.name, nodes: this.withoutOutputCopies(), inputs: this.inputs, outputs: this.outputs, initializers: this.initializers });
  }

  /**
   * `output()` adds an Identity per graph output; here each one whose source is a node's output (used by no
   * other graph output) is dropped and the source renamed, so outputs such as the decode cache are not copied.
   */
  private withoutOutputCopies(): NodeSpec[] {
    const produced = new Set(this.nodes.flatMap((n) => n.outputs));
    const outNames = new Set(this.outputs.map((o) => o.name));
    const rename = new Map<string, string>();
    const drop = new Set<NodeSpec>();
    for (const n of this.nodes) {
      const src = n.inputs[0];
      if (n.op !== 'Identity' || !outNames.has(n.outputs[0]) || !produced.has(src) || outNames.has(src) || rename.has(src)) continue;
      rename.set(src, n.outputs[0]);
      drop.add(n);
    }
    const r = (x: string) => rename.get(x) ?? x;
    return this.nodes.filter((n) => !drop.has(n)).map((n) => ({ ...n, inputs: n.inputs.map(r), outputs: n.outputs.map(r) }));
  }
}

// ---------------------------------------------------------------------------------------------------
// Shape helpers

function broadcastShape(op: string, a: Shape, b: Shape): Shape {
  const n = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new GraphError(`${op}: shapes ${fmt(a)} and ${fmt(b)} do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

function sameFloat(op: string, ...ts: Tensor[]) {
  for (const t of ts) {
    if (t.dtype !== t.g.ft) throw new GraphError(`${op}: ${t.name} is ${t.dtype}, expected ${t.g.ft}`);
  }
}

const normAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/** Sums a broadcast gradient back to the shape of the operand it flowed into. */
export function unbroadcast(gy: Tensor, shape: Shape): Tensor {
  if (fmt(gy.shape) === fmt(shape)) return gy;
  const lead = gy.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < gy.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && gy.shape[i] !== 1)) axes.push(i);
  }
  const k = axes.length;
  if (k > 0 && k < gy.rank && axes.every((a, i) => a === i)) {
    // Summing over leading axes (a bias shared over batch and positions): ones[1, rows] · gy[rows, n] runs
    // as one GEMM, about twice as fast as onnxruntime's ReduceSum over leading axes.
    const rows = gy.shape.slice(0, k).reduce((a, b) => a * b, 1);
    const ones = gy.g.constant(new Array(rows).fill(1), [1, rows]);
    return reshape(matmul(ones, reshape(gy, [rows, gy.size / rows])), shape);
  }
  const s = axes.length ? reduceSum(gy, axes, true) : gy;
  return reshape(s, shape);
}

/** The gradient for input `t`, built only when `t` needs one (no dead nodes in the backward graph). */
const need = <R>(t: Tensor, f: () => R): R | null => (t.requiresGrad ? f() : null);

/**
 * Emits one node and returns its output, differentiable by `rule` with respect to `inputs`. Without a rule
 * the tensor is a constant to the backward pass (masks, indices, statistics a fused op's rule reuses).
 */
function mk(g: Graph, op: string, inputs: Tensor[], shape: Shape, rule?: GradRule, attrs?: NodeSpec['attrs'], dtype?: DType): Tensor {
  return mkOutputs(g, op, inputs, [shape], attrs, dtype, rule)[0];
}

/** `mk` for a node with several outputs (one shape each); the rule, if any, belongs to the first. */
function mkOutputs(g: Graph, op: string, inputs: Tensor[], shapes: Shape[], attrs?: NodeSpec['attrs'], dtype?: DType, rule?: GradRule): Tensor[] {
  const outs = g.emit(op, inputs, shapes.length, attrs);
  const dt = dtype ?? inputs[0].dtype;
  return outs.map((name, i) => (i === 0 ? new Tensor(g, name, shapes[i], dt, inputs, rule) : new Tensor(g, name, shapes[i], dt)));
}

/**
 * A fused op built from rule-less nodes: `forward` gets the gradient `rule` with respect to `parents`
 * (the op's inputs), which it does not consume directly.
 */
function fused(forward: Tensor, parents: Tensor[], rule: GradRule): Tensor {
  return new Tensor(forward.g, forward.name, forward.shape, forward.dtype, parents, rule);
}

// ---------------------------------------------------------------------------------------------------
// Elementwise ops and their gradient rules

export function add(a: Tensor, b: Tensor): Tensor {
  sameFloat('Add', a, b);
  return mk(a.g, 'Add', [a, b], broadcastShape('Add', a.shape, b.shape), (gy) => [need(a, () => unbroadcast(gy, a.shape)), need(b, () => unbroadcast(gy, b.shape))]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  sameFloat('Sub', a, b);
  return mk(a.g, 'Sub', [a, b], broadcastShape('Sub', a.shape, b.shape), (gy) => [need(a, () => unbroadcast(gy, a.shape)), need(b, () => unbroadcast(neg(gy), b.shape))]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  sameFloat('Mul', a, b);
  return mk(a.g, 'Mul', [a, b], broadcastShape('Mul', a.shape, b.shape), (gy) => [
    need(a, () => unbroadcast(mul(gy, b), a.shape)),
    need(b, () => unbroadcast(mul(gy, a), b.shape)),
  ]);
}

export function div(a: Tensor, b: Tensor): Tensor {
  sameFloat('Div', a, b);
  const y: Tensor = mk(a.g, 'Div', [a, b], broadcastShape('Div', a.shape, b.shape), (gy) => [
    need(a, () => unbroadcast(div(gy, b), a.shape)),
    need(b, () => unbroadcast(neg(mul(gy, div(y, b))), b.shape)), // d(a/b)/db = -y/b
  ]);
  return y;
}

export function neg(x: Tensor): Tensor {
  sameFloat('Neg', x);
  return mk(x.g, 'Neg', [x], x.shape, (gy) => [neg(gy)]);
}

export function exp(x: Tensor): Tensor {
  sameFloat('Exp', x);
  const y: Tensor = mk(x.g, 'Exp', [x], x.shape, (gy) => [mul(gy, y)]);
  return y;
}

export function log(x: Tensor): Tensor {
  sameFloat('Log', x);
  return mk(x.g, 'Log', [x], x.shape, (gy) => [div(gy, x)]);
}

/** Elementwise max; the gradient goes to `a` where a ≥ b, else to `b`. */
export function maximum(a: Tensor, b: Tensor): Tensor {
  sameFloat('Max', a, b);
  return mk(a.g, 'Max', [a, b], broadcastShape('Max', a.shape, b.shape), (gy) => {
    const ta = cast(greaterOrEqual(a, b), a.g.ft);
    return [need(a, () => unbroadcast(mul(gy, ta), a.shape)), need(b, () => unbroadcast(mul(gy, sub(a.g.scalar(1), ta)), b.shape))];
  });
}

/** Elementwise min; the gradient goes to `a` where a ≤ b, else to `b`. */
export function minimum(a: Tensor, b: Tensor): Tensor {
  sameFloat('Min', a, b);
  return mk(a.g, 'Min', [a, b], broadcastShape('Min', a.shape, b.shape), (gy) => {
    const ta = cast(lessOrEqual(a, b), a.g.ft);
    return [need(a, () => unbroadcast(mul(gy, ta), a.shape)), need(b, () => unbroadcast(mul(gy, sub(a.g.scalar(1), ta)), b.shape))];
  });
}

/** clamp(x, lo, hi) with scalar bounds; the gradient passes to x where lo ≤ x ≤ hi (as torch.clamp), else to the bound. */
export function clip(x: Tensor, lo: Tensor, hi: Tensor): Tensor {
  sameFloat('Clip', x, lo, hi);
  if (lo.rank !== 0 || hi.rank !== 0) throw new GraphError(`Clip: bounds must be scalars, got ${fmt(lo.shape)} and ${fmt(hi.shape)}`);
  return mk(x.g, 'Clip', [x, lo, hi], x.shape, (gy) => {
    const ft = x.g.ft;
    const inside = and(greaterOrEqual(x, lo), lessOrEqual(x, hi));
    const all = x.shape.map((_, i) => i);
    return [
      mul(gy, cast(inside, ft)),
      need(lo, () => reduceSum(mul(gy, cast(less(x, lo), ft)), all)),
      need(hi, () => reduceSum(mul(gy, cast(less(hi, x), ft)), all)),
    ];
  });
}

/** where(cond, a, b) with a non-differentiable boolean condition. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  sameFloat('Where', a, b);
  if (cond.dtype !== 'bool') throw new GraphError(`Where: condition ${cond.name} must be bool, is ${cond.dtype}`);
  const shape = broadcastShape('Where', broadcastShape('Where', cond.shape, a.shape), b.shape);
  return mk(a.g, 'Where', [cond, a, b], shape, (gy) => {
    const zero = a.g.scalar(0);
    return [null, need(a, () => unbroadcast(where(cond, gy, zero), a.shape)), need(b, () => unbroadcast(where(cond, zero, gy), b.shape))];
  }, undefined, a.dtype);
}

/**
 * GELU, sigmoid form (CLIP's "QuickGELU"): y = x·σ(1.702x); dy/dx = s·(1 + 1.702x·(1 − s)), s = σ(1.702x).
 * Three forward kernels instead of erf's or tanh's eight or nine, and it has float64 kernels for the checks.
 */
export function gelu(x: Tensor): Tensor {
  sameFloat('Gelu', x);
  const g = x.g;
  // a and s carry no rule: the output's rule differentiates through them.
  const a = mk(g, 'Mul', [x, g.scalar(1.702)], x.shape);
  const s = mk(g, 'Sigmoid', [a], x.shape);
  return mk(g, 'Mul', [x, s], x.shape, (gy) => [mul(gy, mul(s, add(mul(a, sub(g.scalar(1), s)), g.scalar(1)))), null]);
}

// ---------------------------------------------------------------------------------------------------
// Non-differentiable helpers (masks, indices)

export function cast(x: Tensor, to: DType): Tensor {
  const codes = { float: 1, int64: 7, bool: 9, double: 11 } as const;
  return mk(x.g, 'Cast', [x], x.shape, undefined, { to: codes[to] }, to);
}
function cmp(op: string, a: Tensor, b: Tensor): Tensor {
  return mk(a.g, op, [a, b], broadcastShape(op, a.shape, b.shape), undefined, undefined, 'bool');
}
export const greaterOrEqual = (a: Tensor, b: Tensor) => cmp('GreaterOrEqual', a, b);
export const lessOrEqual = (a: Tensor, b: Tensor) => cmp('LessOrEqual', a, b);
export const less = (a: Tensor, b: Tensor) => cmp('Less', a, b);
export const equal = (a: Tensor, b: Tensor) => cmp('Equal', a, b);
export const and = (a: Tensor, b: Tensor) => cmp('And', a, b);

/** One-hot of int64 ids over `depth` classes, in the graph's float type: [..., depth]. */
export function oneHot(ids: Tensor, depth: number): Tensor {
  if (ids.dtype !== 'int64') throw new GraphError(`oneHot: ids ${ids.name} must be int64`);
  const range = ids.g.constant(Array.from({ length: depth }, (_, i) => i), [depth], 'int64');
  return cast(equal(unsqueeze(ids, -1), range), ids.g.ft);
}

/** data with `updates` written at `indices` (ONNX ScatterND; no gradient — used for the decode cache). */
export function scatterND(data: Tensor, indices: Tensor, updates: Tensor): Tensor {
  const q = indices.shape[indices.rank - 1];
  const want = [...indices.shape.slice(0, -1), ...data.shape.slice(q)];
  if (indices.dtype !== 'int64' || fmt(updates.shape) !== fmt(want)) {
    throw new GraphError(`ScatterND: indices ${fmt(indices.shape)} (${indices.dtype}) into ${fmt(data.shape)} need updates ${fmt(want)}, got ${fmt(updates.shape)}`);
  }
  return mk(data.g, 'ScatterND', [data, indices, updates], data.shape);
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = axis < 0 ? axis + x.rank + 1 : axis;
  const shape = [...x.shape.slice(0, a), 1, ...x.shape.slice(a)];
  return reshape(x, shape);
}

// ---------------------------------------------------------------------------------------------------
// Shape ops

export function reshape(x: Tensor, shape: Shape): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== x.size || shape.some((d) => d < 0)) throw new GraphError(`Reshape: cannot reshape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)}`);
  if (fmt(shape) === fmt(x.shape)) return x;
  return mk(x.g, 'Reshape', [x, x.g.ints(shape)], shape, (gy) => [reshape(gy, x.shape)]);
}

export function transpose(x: Tensor, perm: number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i)) throw new GraphError(`Transpose: perm [${perm}] is not a permutation of rank ${x.rank} (${fmt(x.shape)})`);
  const inv = perm.map((_, i) => perm.indexOf(i));
  return mk(x.g, 'Transpose', [x], perm.map((p) => x.shape[p]), (gy) => [transpose(gy, inv)], { perm });
}

/** Swaps the last two axes. */
export function T(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return transpose(x, perm);
}

/** x[..., start:end, ...] along one axis; the gradient pads with zeros. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normAxis(axis, x.rank);
  if (!(0 <= start && start < end && end <= x.shape[a])) throw new GraphError(`Slice: [${start}:${end}] out of range for axis ${a} of ${fmt(x.shape)}`);
  const shape = x.shape.slice();
  shape[a] = end - start;
  const g = x.g;
  return mk(g, 'Slice', [x, g.ints([start]), g.ints([end]), g.ints([a])], shape, (gy) => [{ piece: gy, axis: a, start }]);
}

/** Joins the gradient contributions to one tensor: slice pieces along one axis by Concat, the rest by Add. */
function combine(parts: (Tensor | SlicePiece)[], shape: Shape, g: Graph): Tensor {
  const whole = parts.filter((p): p is Tensor => p instanceof Tensor);
  const pieces = parts.filter((p): p is SlicePiece => !(p instanceof Tensor));
  const byAxis = new Map<number, SlicePiece[]>();
  for (const p of pieces) byAxis.set(p.axis, [...(byAxis.get(p.axis) ?? []), p]);
  for (const [axis, list] of byAxis) {
    list.sort((a, b) => a.start - b.start);
    const disjoint = list.every((p, i) => i === 0 || list[i - 1].start + list[i - 1].piece.shape[axis] <= p.start);
    const groups = disjoint ? [list] : list.map((p) => [p]);
    for (const grp of groups) {
      const seq: Tensor[] = [];
      let at = 0;
      const zeros = (n: number) => {
        const zs = shape.slice();
        zs[axis] = n;
        seq.push(expand(g.scalar(0), zs));
      };
      for (const p of grp) {
        if (p.start > at) zeros(p.start - at);
        seq.push(p.piece);
        at = p.start + p.piece.shape[axis];
      }
      if (at < shape[axis]) zeros(shape[axis] - at);
      whole.push(seq.length === 1 ? seq[0] : concat(seq, axis));
    }
  }
  return whole.reduce((acc, t) => add(acc, t));
}

export function concat(xs: Tensor[], axis: number): Tensor {
  const a = normAxis(axis, xs[0].rank);
  for (const x of xs) {
    if (x.rank !== xs[0].rank || x.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
      throw new GraphError(`Concat on axis ${a}: shapes ${xs.map((t) => fmt(t.shape)).join(' ')} differ off that axis`);
    }
  }
  const shape = xs[0].shape.slice();
  shape[a] = xs.reduce((s, x) => s + x.shape[a], 0);
  return mk(xs[0].g, 'Concat', xs, shape, (gy) => {
    let off = 0;
    return xs.map((x) => {
      const s = slice(gy, a, off, off + x.shape[a]);
      off += x.shape[a];
      return s;
    });
  }, { axis: a });
}

/** Broadcasts x to `shape` (numpy rules). */
export function expand(x: Tensor, shape: Shape): Tensor {
  const out = broadcastShape('Expand', x.shape, shape);
  if (fmt(out) !== fmt(shape)) throw new GraphError(`Expand: ${fmt(x.shape)} does not expand to ${fmt(shape)}`);
  return mk(x.g, 'Expand', [x, x.g.ints(shape)], shape, (gy) => [unbroadcast(gy, x.shape)]);
}

// ---------------------------------------------------------------------------------------------------
// Reductions

export function reduceSum(x: Tensor, axes: number[], keepdims = false): Tensor {
  const ax = axes.map((a) => normAxis(a, x.rank));
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const shape = keepdims ? kept : x.shape.filter((_, i) => !ax.includes(i));
  return mk(x.g, 'ReduceSum', [x, x.g.ints(ax)], shape, (gy) => [expand(reshape(gy, kept), x.shape)], { keepdims: keepdims ? 1 : 0 });
}

export function reduceMean(x: Tensor, axes: number[], keepdims = false): Tensor {
  const ax = axes.map((a) => normAxis(a, x.rank));
  const n = ax.reduce((p, a) => p * x.shape[a], 1);
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const shape = keepdims ? kept : x.shape.filter((_, i) => !ax.includes(i));
  return mk(x.g, 'ReduceMean', [x], shape, (gy) => [mul(expand(reshape(gy, kept), x.shape), x.g.scalar(1 / n))], { axes: ax, keepdims: keepdims ? 1 : 0 });
}

// ---------------------------------------------------------------------------------------------------
// Linear algebra, normalisation, softmax

/** Batched matmul [..., m, k] @ [..., k, n] with numpy broadcasting of the batch axes. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  sameFloat('MatMul', a, b);
  if (a.rank < 2 || b.rank < 2) throw new GraphError(`MatMul: operands must be at least 2-D, got ${fmt(a.shape)} @ ${fmt(b.shape)}`);
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (k !== k2) throw new GraphError(`MatMul: inner sizes differ: ${fmt(a.shape)} @ ${fmt(b.shape)}`);
  const batch = broadcastShape('MatMul (batch axes)', a.shape.slice(0, -2), b.shape.slice(0, -2));
  return mk(a.g, 'MatMul', [a, b], [...batch, m, n], (gy) => [
    need(a, () => unbroadcast(matmul(gy, T(b)), a.shape)),
    need(b, () =>
      b.rank === 2 && a.rank > 2
        ? // A weight shared over the batch: fold the batch into rows, one [k, rows] @ [rows, n] product.
          matmul(T(reshape(a, [a.size / k, k])), reshape(gy, [gy.size / n, n]))
        : unbroadcast(matmul(T(a), gy), b.shape),
    ),
  ]);
}

/** LayerNormalization over the last axis with gain γ and bias β. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  sameFloat('LayerNormalization', x, gamma, beta);
  const d = x.shape[x.rank - 1];
  if (gamma.rank !== 1 || gamma.shape[0] !== d || beta.rank !== 1 || beta.shape[0] !== d) {
    throw new GraphError(`LayerNormalization: γ ${fmt(gamma.shape)} and β ${fmt(beta.shape)} must be [${d}] for input ${fmt(x.shape)}`);
  }
  const g = x.g;
  const statShape = [...x.shape.slice(0, -1), 1];
  // The forward is rule-less; its mean and 1/σ are reused by the rule below.
  let y: Tensor, mean: Tensor, invStd: Tensor;
  if (g.ft === 'float') {
    [y, mean, invStd] = mkOutputs(g, 'LayerNormalization', [x, gamma, beta], [x.shape, statShape, statShape], { axis: -1, epsilon: { float: eps } });
  } else {
    // onnxruntime has no float64 LayerNormalization kernel: the same computation in primitives.
    const op = (name: string, ins: Tensor[], shape: Shape, attrs?: NodeSpec['attrs']) => mk(g, name, ins, shape, undefined, attrs);
    const stat = { axes: [-1], keepdims: 1 };
    mean = op('ReduceMean', [x], statShape, stat);
    const xc = op('Sub', [x, mean], x.shape);
    const v = op('ReduceMean', [op('Mul', [xc, xc], x.shape)], statShape, stat);
    invStd = op('Reciprocal', [op('Sqrt', [op('Add', [v, g.scalar(eps)], statShape)], statShape)], statShape);
    y = op('Add', [op('Mul', [op('Mul', [xc, invStd], x.shape), gamma], x.shape), beta], x.shape);
  }
  return fused(y, [x, gamma, beta], (gy) => {
    const xhat = mul(sub(x, mean), invStd);
    const dxhat = mul(gy, gamma);
    // dx = invStd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂))
    const dx = mul(invStd, sub(sub(dxhat, reduceMean(dxhat, [-1], true)), mul(xhat, reduceMean(mul(dxhat, xhat), [-1], true))));
    return [dx, need(gamma, () => unbroadcast(mul(gy, xhat), gamma.shape)), need(beta, () => unbroadcast(gy, beta.shape))];
  });
}

/** Softmax over the last axis; dx = y ⊙ (dy − Σ dy ⊙ y). */
export function softmax(x: Tensor): Tensor {
  sameFloat('Softmax', x);
  const y: Tensor = mk(x.g, 'Softmax', [x], x.shape, (gy) => [mul(y, sub(gy, reduceSum(mul(gy, y), [-1], true)))], { axis: -1 });
  return y;
}

/** LogSoftmax over the last axis; dx = dy − softmax(x) · Σ dy. */
export function logSoftmax(x: Tensor): Tensor {
  sameFloat('LogSoftmax', x);
  const y: Tensor = mk(x.g, 'LogSoftmax', [x], x.shape, (gy) => [sub(gy, mul(exp(y), reduceSum(gy, [-1], true)))], { axis: -1 });
  return y;
}

/** Row lookup W[ids] for an embedding table W [V, d]; dW = onehot(ids)ᵀ · dy. */
export function embedding(W: Tensor, ids: Tensor): Tensor {
  sameFloat('Gather', W);
  if (W.rank !== 2) throw new GraphError(`embedding: table must be [V, d], got ${fmt(W.shape)}`);
  if (ids.dtype !== 'int64') throw new GraphError(`embedding: ids ${ids.name} must be int64, is ${ids.dtype}`);
  const [V, d] = W.shape;
  return mk(W.g, 'Gather', [W, ids], [...ids.shape, d], (gy) => {
    const n = ids.size;
    return [matmul(T(reshape(oneHot(ids, V), [n, V])), reshape(gy, [n, d])), null];
  }, { axis: 0 });
}

// ---------------------------------------------------------------------------------------------------
// Backward pass

/** Emits the gradient of the scalar `loss` with respect to each tensor of `wrt` (zeros where unused). */
export function gradients(loss: Tensor, wrt: Tensor[]): Tensor[] {
  if (loss.size !== 1) throw new GraphError(`gradients: loss must be a scalar, got ${fmt(loss.shape)}`);
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const visit = (t: Tensor) => {
    if (seen.has(t)) return;
    seen.add(t);
    for (const p of t.parents) if (p.requiresGrad) visit(p);
    order.push(t);
  };
  visit(loss);
  const g = loss.g;
  // Contributions are collected per tensor and combined when the tensor is reached (reverse topological
  // order: all its consumers are done by then).
  const parts = new Map<Tensor, (Tensor | SlicePiece)[]>([[loss, [g.constant([1], loss.shape)]]]);
  const grads = new Map<Tensor, Tensor>();
  const gradOf = (t: Tensor) => {
    if (!grads.has(t) && parts.has(t)) grads.set(t, combine(parts.get(t)!, t.shape, g));
    return grads.get(t);
  };
  for (const t of order.reverse()) {
    const gy = gradOf(t);
    if (!gy || !t.backward) continue;
    const gs = t.backward(gy);
    t.parents.forEach((p, i) => {
      const gp = gs[i];
      if (!gp || !p.requiresGrad) return;
      const got = gp instanceof Tensor ? gp.shape : gp.piece.shape.map((d, k) => (k === gp.axis ? p.shape[k] : d));
      if (fmt(got) !== fmt(p.shape)) throw new GraphError(`gradient rule of ${t.name}: gradient ${fmt(got)} for input ${p.name} ${fmt(p.shape)}`);
      parts.set(p, [...(parts.get(p) ?? []), gp]);
    });
  }
  return wrt.map((w) => gradOf(w) ?? expand(g.scalar(0), w.shape));
}
