// The @vscode-elements controls the views use (imported one by one to keep the bundle small). They style
// themselves with constructable stylesheets (adoptedStyleSheets), which the strict CSP allows.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';

/** Creates an element with a class and, optionally, text (always as textContent). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K];
export function h(tag: string, className?: string, text?: string): HTMLElement;
export function h(tag: string, className?: string, text?: string): HTMLElement {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

export interface SelectLike extends HTMLElement {
  value: string;
}

/** A vscode-single-select with options (labels set as text). */
export function select(options: Array<{ value: string; label: string }>, value: string, onChange: (v: string) => void): SelectLike {
  const sel = document.createElement('vscode-single-select') as SelectLike;
  setOptions(sel, options, value);
  sel.addEventListener('change', () => onChange(sel.value));
  return sel;
}

export function setOptions(sel: SelectLike, options: Array<{ value: string; label: string }>, value: string): void {
  sel.replaceChildren(...options.map((o) => optionElement(o, value)));
  sel.value = value;
}

/** Adds options at the end of a select's list, keeping the ones it has. */
export function appendOptions(sel: SelectLike, options: Array<{ value: string; label: string }>, value: string): void {
  sel.append(...options.map((o) => optionElement(o, value)));
  sel.value = value;
}

function optionElement(o: { value: string; label: string }, value: string): HTMLElement {
  const opt = document.createElement('vscode-option');
  opt.setAttribute('value', o.value);
  opt.textContent = o.label;
  if (o.value === value) opt.setAttribute('selected', '');
  return opt;
}

/** Adopts a stylesheet given as text (esbuild loads .css as text): no <style> element, no 'unsafe-inline'. */
export function adoptCss(css: string): void {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}

// One number format for every view (the editor's cards use it too).
export { fmt, signed } from '../src/core/format';
