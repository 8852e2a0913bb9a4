/**
 * Where in a JSON text an offset falls: the path of the innermost value that contains it
 * (e.g. ["logp", "image", 12]) and that value's [start, end) range; on an object key, the key's path and range. A small scanner (no vscode, no
 * dependencies) so a hover on one line of a rollouts file can name the token under the cursor.
 */
import { PER_TOKEN_KEYS, TOKEN_FIELD_GROUPS } from '../../core/run/tokenFields';

export type JsonPath = Array<string | number>;

export interface JsonLocation {
  path: JsonPath;
  start: number;
  end: number;
}

export function locateJsonValue(text: string, offset: number): JsonLocation | undefined {
  let pos = 0;
  let best: JsonLocation | undefined;

  const ws = () => {
    while (pos < text.length && /\s/.test(text[pos])) pos++;
  };
  const fail = (): never => {
    throw new SyntaxError(`unexpected ${text[pos] ?? 'end'} at ${pos}`);
  };

  const str = (): string => {
    const start = pos;
    pos++; // opening quote
    while (pos < text.length && text[pos] !== '"') pos += text[pos] === '\\' ? 2 : 1;
    if (pos >= text.length) fail();
    pos++;
    return JSON.parse(text.slice(start, pos)) as string;
  };

  const value = (path: JsonPath): void => {
    ws();
    const start = pos;
    const c = text[pos];
    if (c === '{') {
      pos++;
      ws();
      if (text[pos] === '}') pos++;
      else
        for (;;) {
          ws();
          if (text[pos] !== '"') fail();
          const keyStart = pos;
          const key = str();
          // A key stands for its value (hovering "tokens" is about the tokens).
          if (!best && offset >= keyStart && offset < pos) best = { path: [...path, key], start: keyStart, end: pos };
          ws();
          if (text[pos++] !== ':') fail();
          value([...path, key]);
          ws();
          if (text[pos] === ',') pos++;
          else if (text[pos] === '}') {
            pos++;
            break;
          } else fail();
        }
    } else if (c === '[') {
      pos++;
      ws();
      if (text[pos] === ']') pos++;
      else
        for (let i = 0; ; i++) {
          value([...path, i]);
          ws();
          if (text[pos] === ',') pos++;
          else if (text[pos] === ']') {
            pos++;
            break;
          } else fail();
        }
    } else if (c === '"') {
      str();
    } else {
      const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|NaN|-?Infinity)/.exec(text.slice(pos, pos + 40));
      if (!m) fail();
      pos += m![0].length;
    }
    // Values finish innermost first; the first one that contains the offset is the innermost.
    if (!best && offset >= start && offset < pos) best = { path, start, end: pos };
  };

  try {
    value([]);
  } catch {
    // A torn or malformed line: whatever was located before the error still counts.
  }
  return best;
}

/** The token index a JSON path inside a rollout record points at, if it points into a per-token array. */
export function tokenIndexOf(path: JsonPath): number | undefined {
  const [key] = path;
  if (typeof key !== 'string') return undefined;
  if (PER_TOKEN_KEYS.has(key) && typeof path[1] === 'number') return path[1];
  if (TOKEN_FIELD_GROUPS.has(key) && typeof path[1] === 'string' && typeof path[2] === 'number') return path[2];
  return undefined;
}
