// `export-task shapes` writes the dataset folder both backends train on: the same examples as the built-in task,
// images that decode to the task's pixels, and clear usage errors.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { test } from 'node:test';
import { ShapesTask } from '../../../src/backend/task/shapes';
import { exportShapes, main } from '../../../src/cli/exportTask';
import { noPython, python } from './helpers';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'prpo-export-'));
}

/** The RGB bytes of an 8-bit, filter-0 PNG as encodePng writes it. */
function pngPixels(file: string): { width: number; height: number; rgb: Uint8Array } {
  const buf = readFileSync(file);
  assert.deepEqual([...buf.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], `${file} is not a PNG`);
  let pos = 8;
  let width = 0, height = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('ascii', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') [width, height] = [data.readUInt32BE(0), data.readUInt32BE(4)];
    if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    assert.equal(raw[y * (width * 3 + 1)], 0, 'filter type 0 expected');
    rgb.set(raw.subarray(y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1)), y * width * 3);
  }
  return { width, height, rgb };
}

test('export-task shapes writes data.jsonl and one PNG per example, matching the built-in task', () => {
  const out = scratch();
  try {
    const lines = exportShapes({ out, n: 12, seed: 7, split: 'val' });
    const fromFile = readFileSync(join(out, 'data.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(fromFile, lines);
    assert.equal(readdirSync(join(out, 'images')).length, 12);
    const task = new ShapesTask({ seed: 7 });
    for (const [i, line] of fromFile.entries()) {
      const ex = task.example('val', i);
      assert.equal(line.id, ex.id);
      assert.equal(line.image, `images/${ex.id}.png`);
      assert.equal(line.prompt, ex.question.join(' '));
      assert.equal(line.answer, ex.answer);
      // The reference ends with the answer (<eos> is not a word of it); the perceptual words are the ones the
      // image decides in it, each once.
      const words = line.reference.split(' ');
      assert.equal(words.at(-1), ex.answer);
      assert.ok(!words.includes('<eos>'));
      assert.deepEqual(line.perceptual, [...new Set(words.filter((_: string, k: number) => ex.perceptual[k] === 1))].sort());
      assert.ok(line.perceptual.every((w: string) => typeof w === 'string' && words.includes(w)));
      const png = pngPixels(join(out, line.image));
      assert.deepEqual([png.width, png.height], [32, 32]);
      // Pixel (x, y) channel c of the PNG is the task's CHW float, rounded to 8 bits.
      for (const [x, y] of [[0, 0], [5, 9], [16, 16], [31, 31]]) {
        for (let c = 0; c < 3; c++) assert.ok(Math.abs(png.rgb[(y * 32 + x) * 3 + c] - Math.round(ex.image[c * 1024 + y * 32 + x] * 255)) <= 1);
      }
    }
    // Deterministic: the same arguments write the same lines.
    assert.deepEqual(exportShapes({ out: join(out, 'again'), n: 12, seed: 7, split: 'val' }), lines);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('export-task shapes --image-size scales the images; bad arguments exit 2 with the reason', async () => {
  const out = scratch();
  try {
    const lines = exportShapes({ out, n: 2, imageSize: 64 });
    assert.deepEqual([pngPixels(join(out, lines[0].image)).width], [64]);
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (errors.push(String(s)), true)) as typeof process.stderr.write;
    try {
      assert.equal(await main(['colors', '--out', out, '--n', '3']), 2);
      assert.equal(await main(['shapes', '--n', '3']), 2);
      assert.equal(await main(['shapes', '--out', out, '--n', '0']), 2);
      assert.equal(await main(['shapes', '--out', out, '--n', '3', '--split', 'test']), 2);
      assert.equal(await main(['shapes', '--out', out, '--n', '3', '--image-size', '30']), 2);
    } finally {
      process.stderr.write = write;
    }
    const text = errors.join('');
    for (const part of ["unknown task 'colors'", '--out DIR is required', '--n: expected an integer ≥ 1', "--split: expected train or val, got 'test'", '--image-size: expected a multiple of 8']) {
      assert.ok(text.includes(part), `missing "${part}" in:\n${text}`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("the PyTorch backend's dataset reader reads the exported folder as written", { skip: noPython }, () => {
  const out = scratch();
  try {
    const lines = exportShapes({ out, n: 5, seed: 3 });
    const script = [
      'import json, sys',
      'from prpo_studio.data import Dataset',
      'd = Dataset(sys.argv[1])',
      'print(json.dumps([{"id": e.id, "image": e.image_rel, "prompt": e.prompt, "answer": e.answer, "perceptual": e.perceptual, **e.extra} for e in d.examples]))',
    ].join('\n');
    const read = JSON.parse(python(['-c', script, out]).stdout);
    assert.deepEqual(read, lines);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
