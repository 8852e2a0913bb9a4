// The compare view's bundle (dist/webview-compare.js).
import { boot } from '../boot';
import { startCompare } from './app';

startCompare(boot());
