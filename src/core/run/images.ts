/**
 * Task images of a run, read for the views. The image path comes from a rollout record, which any program (or
 * a hostile file) may have written, so it is untrusted: the file must lie inside the run directory (also after
 * following links), be small, really be an image of the kind its name says, and not claim more pixels than a
 * view can decode (a 100,000 × 100,000 PNG header is a few bytes and 40 GB decoded). Every refusal is a
 * sentence for the view to show. Node only (no vscode): the trajectory panel and the tests share it.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export const IMAGE_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif' };
/** Images above this size are not inlined (the task images are a few KB). */
export const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
/** Width and height above this are refused: far above any task image, well below what a decoder chokes on. */
export const MAX_IMAGE_SIDE = 16_384;
export const MAX_IMAGE_PIXELS = 64 * 1024 * 1024;

type Size = { width: number; height: number };

const u16be = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const u32be = (b: Uint8Array, i: number) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
const u16le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8);
const u24le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
const ascii = (b: Uint8Array, i: number, n: number) => String.fromCharCode(...b.subarray(i, i + n));

/** The pixel size a PNG claims in its IHDR chunk, or why it is not a PNG. */
function pngSize(b: Uint8Array): Size | string {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (b.length < 24 || sig.some((x, i) => b[i] !== x)) return 'is not a PNG file (its first bytes are not the PNG signature)';
  if (ascii(b, 12, 4) !== 'IHDR') return 'is not a valid PNG (no IHDR header chunk)';
  return { width: u32be(b, 16), height: u32be(b, 20) };
}

function gifSize(b: Uint8Array): Size | string {
  if (b.length < 10 || !/^GIF8[79]a$/.test(ascii(b, 0, 6))) return 'is not a GIF file';
  return { width: u16le(b, 6), height: u16le(b, 8) };
}

function webpSize(b: Uint8Array): Size | string {
  if (b.length < 30 || ascii(b, 0, 4) !== 'RIFF' || ascii(b, 8, 4) !== 'WEBP') return 'is not a WebP file';
  const kind = ascii(b, 12, 4);
  if (kind === 'VP8X') return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
  if (kind === 'VP8L') {
    const bits = b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (kind === 'VP8 ') return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  return 'is not a WebP image this view reads';
}

/** JPEG: the size is in the first start-of-frame segment; segments are walked by their lengths (bounded by the file). */
function jpegSize(b: Uint8Array): Size | string {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return 'is not a JPEG file';
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return 'is not a valid JPEG (a segment does not start with a marker)';
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) return { width: u16be(b, i + 7), height: u16be(b, i + 5) };
    const length = u16be(b, i + 2);
    if (length < 2) return 'is not a valid JPEG (a segment length is wrong)';
    i += 2 + length;
  }
  return 'is not a valid JPEG (no frame header)';
}

const SIZE_OF: Record<string, (b: Uint8Array) => Size | string> = {
  'image/png': pngSize,
  'image/gif': gifSize,
  'image/webp': webpSize,
  'image/jpeg': jpegSize,
};

/**
 * Checks image bytes against their claimed type: undefined when they are a real image of a size a view can
 * decode, else what is wrong (a phrase that follows the file's name: "is not a PNG file …").
 */
export function imageProblem(bytes: Uint8Array, mime: string): string | undefined {
  const size = SIZE_OF[mime]?.(bytes) ?? 'is not an image type this view reads';
  if (typeof size === 'string') return size;
  const { width, height } = size;
  if (width < 1 || height < 1) return `claims ${width} × ${height} pixels`;
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || width * height > MAX_IMAGE_PIXELS) {
    return `claims ${width.toLocaleString('en-US')} × ${height.toLocaleString('en-US')} pixels, more than this view decodes (at most ${MAX_IMAGE_SIDE.toLocaleString('en-US')} per side)`;
  }
  return undefined;
}

/**
 * Reads a rollout's image (a path relative to the run directory) as a data: URL, or says why not: the path
 * leaves the run directory or links out of it, the type is not an image, the file is over 8 MB, its bytes
 * are not an image of that type, or it claims too many pixels. Never throws.
 */
export async function readRunImage(runDir: string, image: string): Promise<{ dataUrl: string; error?: undefined } | { dataUrl?: undefined; error: string }> {
  const shown = JSON.stringify(image.length > 200 ? `${image.slice(0, 200)}…` : image);
  const root = path.resolve(runDir);
  const file = path.resolve(root, image);
  if (!file.startsWith(root + path.sep)) return { error: `The image path ${shown} leaves the run directory.` };
  const type = IMAGE_TYPES[path.extname(file).toLowerCase()];
  if (!type) return { error: `The image ${shown} is not a PNG, JPEG, WebP or GIF image.` };
  try {
    // A link inside the run directory must not lead out of it either.
    const [realRoot, realFile] = await Promise.all([fs.realpath(root), fs.realpath(file)]);
    if (!realFile.startsWith(realRoot + path.sep)) return { error: `The image ${shown} links outside the run directory.` };
    const stat = await fs.stat(realFile);
    if (!stat.isFile()) return { error: `The image ${shown} is not a file.` };
    if (stat.size > MAX_IMAGE_BYTES) return { error: `The image ${shown} is larger than 8 MB (${(stat.size / 2 ** 20).toFixed(1)} MB).` };
    const bytes = new Uint8Array(await fs.readFile(realFile));
    const problem = imageProblem(bytes, type);
    if (problem) return { error: `The image ${shown} ${problem}.` };
    return { dataUrl: `data:${type};base64,${Buffer.from(bytes).toString('base64')}` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The error code, not Node's message: that repeats the (untrusted, maybe 100 KB) path.
    return { error: code === 'ENOENT' ? `The image ${shown} is missing from the run directory.` : `Cannot read the image ${shown} (${code ?? String(err).slice(0, 200)}).` };
  }
}
