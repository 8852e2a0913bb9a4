/**
 * Timing marks of the views: `performance` marks with the measured milliseconds as their detail, read by the
 * benchmarks (bench/webview-*.ts) and the UI scenarios. They stay in the page: nothing crosses to the host.
 */
export type Report = (name: string, ms: number) => void;

/** Marks kept per name: a view streaming 100 rollouts a second for hours must not keep every one. */
const MAX_MARKS = 10_000;
const markCounts = new Map<string, number>();

/** A timing mark with the measured milliseconds as its detail. */
export const report: Report = (name, ms) => {
  const n = (markCounts.get(name) ?? 0) + 1;
  if (n > MAX_MARKS) performance.clearMarks(name);
  markCounts.set(name, n > MAX_MARKS ? 1 : n);
  performance.mark(name, { detail: ms });
};
