// Opens a run directory as its writer and stays alive until killed (the live writer of the lock tests).
// Usage: node --import tsx test/unit/run/holdWriter.ts RUN_DIR
import { RunWriter } from '../../../src/core/run/writer';

RunWriter.open(process.argv[2]);
console.log('open');
setInterval(() => {}, 1000);
