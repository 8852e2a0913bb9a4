export { TrajectoryPanel } from './trajectoryPanel';
export { ChartsPanel } from './chartsPanel';
export { ComparePanel } from './comparePanel';
export type { RunSource } from './runSource';
