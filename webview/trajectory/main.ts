// The trajectory view's bundle (dist/webview-trajectory.js).
import { boot } from '../boot';
import { startTrajectory } from './app';

startTrajectory(boot());
