/**
 * metrics.jsonl is append-only, so a run resumed from an earlier checkpoint leaves the rows of its abandoned
 * continuation in the file. The run's history as it stands: read in file order, a row whose step is not past
 * the previous one rewinds — rows at or after its step are dropped before it is kept.
 */
import type { MetricsRow } from '../../core/run/schema';

export function currentHistory(rows: MetricsRow[]): MetricsRow[] {
  const out: MetricsRow[] = [];
  for (const row of rows) {
    while (out.length && out[out.length - 1].step >= row.step) out.pop();
    out.push(row);
  }
  return out;
}
