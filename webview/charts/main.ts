// The charts view's bundle (dist/webview-charts.js).
import { boot } from '../boot';
import { startCharts } from './app';

startCharts(boot());
