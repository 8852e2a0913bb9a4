/**
 * What the charts draw of a long series: a run with 100,000 metrics rows would otherwise be 100,000 points per
 * line, drawn and hit-tested on every pointer move. Min/max per pixel column (the M4 reduction: each column's
 * first, lowest, highest and last point) draws the same line as all the points would at that width, keeps
 * every spike, and hands back only real points, so a hover names a row that is in the file.
 *
 * Chart.js's own decimation plugin does the same, but it moves the dataset's array behind a getter, so the live
 * appends of a training run (pushed into `dataset.data`) would be lost at the next redraw.
 */

export interface XY {
  x: number;
  y: number;
}

/**
 * At most 4 points per column of `columns` (first, min, max and last by y, in x order), chosen from `points`
 * (sorted by x, finite numbers). Returns `points` itself when it is already that short.
 */
export function decimateMinMax<P extends XY>(points: readonly P[], columns: number): readonly P[] {
  const n = points.length;
  const cols = Math.max(1, Math.floor(columns));
  if (n <= 4 * cols) return points;
  const x0 = points[0].x;
  const span = points[n - 1].x - x0;
  // All at one x: one column.
  const scale = span > 0 ? cols / span : 0;
  const column = (x: number) => Math.max(0, Math.min(cols - 1, Math.floor((x - x0) * scale)));
  const out: P[] = [];
  let i = 0;
  while (i < n) {
    const col = column(points[i].x);
    const first = i;
    let min = i;
    let max = i;
    for (i++; i < n && column(points[i].x) === col; i++) {
      if (points[i].y < points[min].y) min = i;
      if (points[i].y > points[max].y) max = i;
    }
    const last = i - 1;
    // In x order, each once.
    for (const k of [first, Math.min(min, max), Math.max(min, max), last].filter((k, j, a) => a.indexOf(k) === j)) out.push(points[k]);
  }
  return out;
}
