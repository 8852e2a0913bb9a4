export { TrajectoryPanel } from './trajectoryPanel';
export { ChartsPanel } from './chartsPanel';
export type { RunSource } from './runSource';
