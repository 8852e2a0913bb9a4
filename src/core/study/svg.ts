/**
 * The study's figures as standalone SVG text (no browser, no dependencies; reviewable in a diff): line
 * charts with a shaded band per series, and a forest plot of intervals. Labels are escaped.
 */

export interface Series {
  label: string;
  /** Points (x, y) with an optional band [lo, hi]. */
  points: Array<{ x: number; y: number; lo?: number; hi?: number }>;
}

export interface Interval {
  label: string;
  mean: number;
  lo: number;
  hi: number;
  /** Shown to the right (e.g. the Holm-adjusted p). */
  note?: string;
}

const W = 720, H = 420, M = { l: 64, r: 170, t: 40, b: 48 };
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

/** Five round ticks spanning [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  const span = hi - lo || 1;
  const step = 10 ** Math.floor(Math.log10(span / 4));
  const nice = [1, 2, 5, 10].map((k) => k * step).find((s) => span / s <= 6) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + 1e-12; v += nice) out.push(Number(v.toPrecision(12)));
  return out;
}

function frame(title: string, xLabel: string, yLabel: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
    `<text x="${M.l + (W - M.l - M.r) / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text transform="translate(16 ${M.t + (H - M.t - M.b) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Lines with mean ± band per series (e.g. accuracy vs step, mean ± 95 % CI over seeds). */
export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[]): string {
  const pts = series.flatMap((s) => s.points);
  const finite = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);
  const xs = pts.map((p) => p.x);
  const ys = pts.flatMap((p) => [p.y, p.lo, p.hi]).filter(finite);
  const x0 = Math.min(...xs, 0), x1 = Math.max(...xs, 1);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (!ys.length) [y0, y1] = [0, 1];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const px = (x: number) => M.l + ((x - x0) / (x1 - x0 || 1)) * (W - M.l - M.r);
  const py = (y: number) => H - M.b - ((y - y0) / (y1 - y0)) * (H - M.t - M.b);
  const body: string[] = [];
  for (const t of ticks(y0, y1)) {
    body.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    body.push(`<text x="${M.l - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of ticks(x0, x1)) body.push(`<text x="${px(t).toFixed(1)}" y="${H - M.b + 16}" text-anchor="middle">${fmt(t)}</text>`);
  body.push(`<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="none" stroke="#999"/>`);
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const band = s.points.filter((p) => finite(p.lo) && finite(p.hi));
    if (band.length > 1) {
      const upper = band.map((p) => `${px(p.x).toFixed(1)},${py(p.hi!).toFixed(1)}`);
      const lower = [...band].reverse().map((p) => `${px(p.x).toFixed(1)},${py(p.lo!).toFixed(1)}`);
      body.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${color}" fill-opacity="0.15" stroke="none"/>`);
    }
    const line = s.points.filter((p) => finite(p.y)).map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`);
    if (line.length) body.push(`<polyline points="${line.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    body.push(`<rect x="${W - M.r + 12}" y="${M.t + 8 + i * 18}" width="12" height="3" fill="${color}"/>`);
    body.push(`<text x="${W - M.r + 30}" y="${M.t + 13 + i * 18}">${escapeXml(s.label)}</text>`);
  });
  return frame(title, xLabel, yLabel, body);
}

/** A forest plot: one row per interval (mean with [lo, hi]) and a vertical line at 0. */
export function forestPlot(title: string, xLabel: string, rows: Interval[]): string {
  const vals = rows.flatMap((r) => [r.lo, r.hi, r.mean]).filter(Number.isFinite);
  let x0 = Math.min(0, ...vals), x1 = Math.max(0, ...vals);
  if (x1 - x0 < 1e-9) [x0, x1] = [-1, 1];
  const pad = (x1 - x0) * 0.05;
  x0 -= pad;
  x1 += pad;
  const left = 150;
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (W - left - M.r);
  const rowH = Math.min(40, (H - M.t - M.b) / Math.max(1, rows.length));
  const body: string[] = [];
  for (const t of ticks(x0, x1)) {
    body.push(`<line x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${M.t}" y2="${H - M.b}" stroke="#eee"/>`);
    body.push(`<text x="${px(t).toFixed(1)}" y="${H - M.b + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  body.push(`<line x1="${px(0).toFixed(1)}" x2="${px(0).toFixed(1)}" y1="${M.t}" y2="${H - M.b}" stroke="#555" stroke-dasharray="4 3"/>`);
  rows.forEach((r, i) => {
    const y = M.t + rowH * (i + 0.5);
    body.push(`<text x="${left - 10}" y="${(y + 4).toFixed(1)}" text-anchor="end">${escapeXml(r.label)}</text>`);
    if (Number.isFinite(r.lo) && Number.isFinite(r.hi)) {
      body.push(`<line x1="${px(r.lo).toFixed(1)}" x2="${px(r.hi).toFixed(1)}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#1f77b4" stroke-width="2"/>`);
    }
    if (Number.isFinite(r.mean)) body.push(`<circle cx="${px(r.mean).toFixed(1)}" cy="${y.toFixed(1)}" r="4" fill="#1f77b4"/>`);
    if (r.note) body.push(`<text x="${W - M.r + 10}" y="${(y + 4).toFixed(1)}">${escapeXml(r.note)}</text>`);
  });
  return frame(title, xLabel, '', body);
}
