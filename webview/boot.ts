/**
 * What every view's page does first: records what the Content-Security-Policy blocks (the hostile-token scenario
 * asserts there is none), adopts the shared styles and colour scales, and hands back the root to draw in.
 *
 * Each view is its own bundle (esbuild.mjs: dist/webview-<view>.js from webview/<view>/main.ts), so a page loads
 * only its own code: the trajectory view does not parse Chart.js. Only this folder touches the DOM; it imports no
 * Node built-ins and no vscode (layering test).
 */
import styles from './styles.css';
import './elements';
import { adoptCss } from './elements';
import { scaleCss } from './scales';

export function boot(): HTMLElement {
  const cspViolations: string[] = [];
  (window as unknown as { prpoCspViolations: string[] }).prpoCspViolations = cspViolations;
  document.addEventListener('securitypolicyviolation', (e) => cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  adoptCss(styles + '\n' + scaleCss());
  return document.getElementById('app') ?? document.body;
}
