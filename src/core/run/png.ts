/**
 * A minimal PNG encoder (8-bit, no interlace) for the trainer's task images: Float32 CHW in [0, 1] →
 * greyscale (1 channel), grey + alpha (2), RGB (3) or RGBA (4). Values are clamped; NaN becomes 0.
 */
import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

const COLOR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };

export function encodePng(chw: Float32Array, width: number, height: number, channels: number): Uint8Array {
  const colorType = COLOR_TYPE[channels];
  if (colorType === undefined) throw new Error(`encodePng: ${channels} channels; expected 1, 2, 3 or 4`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`encodePng: bad size ${width}×${height}`);
  }
  const plane = width * height;
  if (chw.length !== channels * plane) {
    throw new Error(`encodePng: ${chw.length} values, expected ${channels}×${height}×${width} = ${channels * plane}`);
  }
  // Each scanline: filter byte 0 (none), then interleaved channels.
  const stride = 1 + width * channels;
  const raw = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const v = chw[c * plane + y * width + x];
        raw[y * stride + 1 + x * channels + c] = v > 0 ? (v >= 1 ? 255 : Math.round(v * 255)) : 0;
      }
    }
  }
  const ihdr = new Uint8Array(13);
  const h = new DataView(ihdr.buffer);
  h.setUint32(0, width);
  h.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = colorType;
  // compression, filter and interlace methods: 0
  const signature = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
  const parts = [signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
