/**
 * The task image beside a group, and on demand the probe views computed here from the PNG's pixels. The
 * blind, perturbed and mild views are illustrations, labelled as such: the exact mask and noise each rollout's
 * probe used are not recorded.
 */
import type { WebviewRunInfo } from '../../src/core/protocol/webview';
import { h } from '../elements';
import { VIEWS, caption, type ImageView } from './imageCaptions';
import { mulberry32, standardNormal } from '../../src/core/random';

/** Draws `view` of `img` into `canvas` (pixels at the image's own resolution). */
export function drawView(canvas: HTMLCanvasElement, img: HTMLImageElement, view: ImageView, run: WebviewRunInfo | undefined, seed: number): number {
  const w = img.naturalWidth;
  const ht = img.naturalHeight;
  canvas.width = w;
  canvas.height = ht;
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(img, 0, 0);
  const patch = run?.patchSize ?? Math.max(1, Math.round(Math.min(w, ht) / 8));
  const rand = mulberry32(seed);
  if (view === 'blind') {
    const data = ctx.getImageData(0, 0, w, ht);
    const d = data.data;
    for (let i = 0; i < d.length; i += 4) {
      const g = 0.3 * (0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]) + 0.7 * 128;
      d[i] = d[i + 1] = d[i + 2] = g;
    }
    ctx.putImageData(data, 0, 0);
  } else if (view === 'perturbed') {
    const p = run?.patchDropProb ?? 0.5;
    ctx.fillStyle = '#000';
    for (let y = 0; y < ht; y += patch) for (let x = 0; x < w; x += patch) if (rand() < p) ctx.fillRect(x, y, patch, patch);
  } else if (view === 'mild') {
    const sigma = (run?.mildSigma ?? 0.1) * 255;
    const data = ctx.getImageData(0, 0, w, ht);
    const d = data.data;
    for (let i = 0; i < d.length; i += 4) for (let c = 0; c < 3; c++) d[i + c] = Math.min(255, Math.max(0, d[i + c] + sigma * standardNormal(rand)));
    ctx.putImageData(data, 0, 0);
  }
  return patch;
}

/** The image panel of one group: the picture, the view switch, and an honest caption. */
export function imagePanel(load: Promise<HTMLImageElement>, run: WebviewRunInfo | undefined, seed: number): HTMLElement {
  const panel = h('div', 'image-panel');
  const frame = h('div', 'image-frame');
  const canvas = h('canvas', 'task-image');
  canvas.setAttribute('role', 'img');
  const blindNote = h('div', 'blind-note', 'not seen');
  frame.append(canvas, blindNote);
  const buttons = h('div', 'image-views');
  const cap = h('div', 'image-caption', 'Loading image…');
  panel.append(frame, buttons, cap);
  let view: ImageView = 'image';
  const render = (img: HTMLImageElement): void => {
    const patch = drawView(canvas, img, view, run, seed);
    canvas.setAttribute('aria-label', caption(view, run, patch));
    cap.textContent = caption(view, run, patch);
    frame.classList.toggle('blind', view === 'blind');
    for (const b of buttons.children) b.toggleAttribute('secondary', (b as HTMLElement).dataset.view !== view);
  };
  for (const v of VIEWS) {
    const b = h('vscode-button', 'image-view-button', v.label);
    b.dataset.view = v.view;
    if (v.view !== 'image') b.setAttribute('secondary', '');
    b.addEventListener('click', () => {
      view = v.view;
      void load.then(render, () => undefined);
    });
    buttons.append(b);
  }
  load.then(render, (err: Error) => {
    cap.textContent = err.message;
    panel.classList.add('failed');
  });
  return panel;
}
