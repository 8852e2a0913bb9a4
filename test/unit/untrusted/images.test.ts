/**
 * Untrusted task images (issue #14): what the trajectory panel answers the webview for a rollout's image —
 * a data: URL for a real image, else one sentence — for files that are not what they say, claim 100,000 ×
 * 100,000 pixels, are huge, or lead out of the run directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng } from '../../../src/core/run/png';
import { pngClaiming } from '../../fixtures/images';
import { imageProblem, readRunImage } from '../../../src/core/run/images';
import { tempDir } from '../run/helpers';

test('a real PNG is sent as a data: URL; hostile images get one clear sentence each', async (t) => {
  const root = tempDir(t, 'prpo-untrusted-');
  const run = join(root, 'run');
  mkdirSync(join(run, 'images'), { recursive: true });
  writeFileSync(join(root, 'secret.png'), encodePng(new Float32Array(4), 2, 2, 1));
  writeFileSync(join(run, 'images', 'ok.png'), encodePng(new Float32Array(3 * 4 * 4).fill(0.5), 4, 4, 3));
  writeFileSync(join(run, 'images', 'text.png'), '<svg onload=alert(1)>not a png</svg>');
  writeFileSync(join(run, 'images', 'bomb.png'), pngClaiming(100_000, 100_000));
  writeFileSync(join(run, 'images', 'huge.png'), Buffer.alloc(9 * 2 ** 20));
  writeFileSync(join(run, 'images', 'page.html'), '<script>alert(1)</script>');
  symlinkSync(join(root, 'secret.png'), join(run, 'images', 'link.png'));

  const ok = await readRunImage(run, 'images/ok.png');
  assert.match(ok.dataUrl ?? '', /^data:image\/png;base64,iVBORw0KGgo/);
  const cases: Array<[string, RegExp]> = [
    ['images/text.png', /^The image "images\/text\.png" is not a PNG file \(its first bytes are not the PNG signature\)\.$/],
    ['images/bomb.png', /^The image "images\/bomb\.png" claims 100,000 × 100,000 pixels, more than this view decodes \(at most 16,384 per side\)\.$/],
    ['images/huge.png', /^The image "images\/huge\.png" is larger than 8 MB \(9\.0 MB\)\.$/],
    ['images/page.html', /^The image "images\/page\.html" is not a PNG, JPEG, WebP or GIF image\.$/],
    ['images/link.png', /^The image "images\/link\.png" links outside the run directory\.$/],
    ['../secret.png', /^The image path "\.\.\/secret\.png" leaves the run directory\.$/],
    [join(root, 'secret.png'), /leaves the run directory\.$/],
    ['images/missing.png', /^The image "images\/missing\.png" is missing from the run directory\.$/],
    ['images', /is not a PNG, JPEG, WebP or GIF image/],
    ['x'.repeat(100_000) + '.png', /^Cannot read the image "x{200}…" \(ENAMETOOLONG\)\.$/],
  ];
  for (const [image, expected] of cases) {
    const r = await readRunImage(run, image);
    assert.equal(r.dataUrl, undefined, image.slice(0, 40));
    assert.match(r.error!, expected);
  }
});

test('image headers: other formats are sniffed and bounded too; a damaged header is a sentence, never a throw', () => {
  const gif = Buffer.from('GIF89a\x10\x00\x10\x00\x00\x00\x00', 'latin1');
  assert.equal(imageProblem(gif, 'image/gif'), undefined);
  const bigGif = Buffer.from('GIF89a\xff\xff\xff\xff\x00\x00\x00', 'latin1');
  assert.match(imageProblem(bigGif, 'image/gif')!, /^claims 65,535 × 65,535 pixels/);
  assert.equal(imageProblem(encodePng(new Float32Array(1), 1, 1, 1), 'image/jpeg'), 'is not a JPEG file');
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x86, 0xa0, 0x86, 0xa0, 0x03, 0, 0, 0, 0]);
  assert.match(imageProblem(jpeg, 'image/jpeg')!, /^claims 34,464 × 34,464 pixels/);
  // Every truncation of a valid PNG: refused by a sentence or accepted, never thrown.
  const png = encodePng(new Float32Array(3 * 8 * 8), 8, 8, 3);
  for (let n = 0; n < png.length; n++) {
    const p = imageProblem(png.subarray(0, n), 'image/png');
    if (n < 24) assert.match(p!, /^is not a PNG file/);
  }
});
