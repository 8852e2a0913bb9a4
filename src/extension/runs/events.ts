/** Lifecycle events written on behalf of a backend that can no longer write them itself (it crashed). */
import { readEvents } from '../../core/run/reader';
import { RunWriter } from '../../core/run/writer';

/** Appends a 'failed' event with the reason, unless the backend managed to write one before it died. */
export async function recordFailure(runDir: string, step: number, reason: string): Promise<void> {
  const events = await readEvents(runDir);
  if (events.at(-1)?.type === 'failed') return;
  RunWriter.open(runDir).appendEvent({ type: 'failed', step: Math.max(step, events.at(-1)?.step ?? 0), reason });
}
