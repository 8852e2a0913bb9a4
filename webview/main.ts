/**
 * The webview bundle (dist/webview.js): one script for every panel; the page's `data-view` says which app to
 * start. Only this folder touches the DOM; it imports no Node built-ins and no vscode (layering test).
 */
import styles from './styles.css';
import './elements';
import { adoptCss } from './elements';
import { scaleCss } from './scales';
import { startTrajectory } from './trajectory/app';
import { startCharts } from './charts/app';
import { startCompare } from './compare/app';

// Anything the Content-Security-Policy blocks is recorded (the hostile-token scenario asserts there is none).
const cspViolations: string[] = [];
(window as unknown as { prpoCspViolations: string[] }).prpoCspViolations = cspViolations;
document.addEventListener('securitypolicyviolation', (e) => cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));

adoptCss(styles + '\n' + scaleCss());
const app = document.getElementById('app') ?? document.body;
if (document.body.dataset.view === 'charts') startCharts(app);
else if (document.body.dataset.view === 'compare') startCompare(app);
else startTrajectory(app);
