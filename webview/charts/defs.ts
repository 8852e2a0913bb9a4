/**
 * What the charts view draws: the six charts and the metrics each plots, and the palette. Colours are the
 * Okabe–Ito set (colour-blind safe): one run → one colour per metric; several runs → one colour per run and one
 * dash pattern per metric; grouped → one colour per group.
 */

export interface ChartDef {
  id: string;
  title: string;
  metrics: Array<[key: string, label: string]>;
  /** Fixed y range where the metric has one (accuracies, AUROC). */
  yMin?: number;
  yMax?: number;
}

export const CHARTS: ChartDef[] = [
  { id: 'reward', title: 'Reward and accuracy', metrics: [['reward', 'reward'], ['accuracy', 'accuracy']] },
  { id: 'val', title: 'Validation accuracy', metrics: [['valAccuracy', 'validation accuracy']], yMin: 0, yMax: 1 },
  { id: 'loss', title: 'Loss terms', metrics: [['loss', 'loss'], ['pgLoss', 'policy'], ['entropyLoss', 'entropy term'], ['klLoss', 'KL term']] },
  { id: 'entropy', title: 'Entropy', metrics: [['entropy', 'entropy']] },
  {
    id: 'dependency',
    title: 'Dependency sparsity and AUROC',
    metrics: [['dependencySparsity', 'sparsity'], ['aurocS', 'AUROC S'], ['aurocG', 'AUROC G'], ['aurocU', 'AUROC U'], ['aurocRvd', 'AUROC RVD']],
    yMin: 0,
    yMax: 1,
  },
  { id: 'time', title: 'Step time split (ms)', metrics: [['timeSampleMs', 'sampling'], ['timeProbeMs', 'probe views'], ['timeUpdateMs', 'update'], ['timeStepMs', 'whole step']] },
];

const OKABE_ITO = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#999999'];
const DASHES: number[][] = [[], [6, 3], [2, 2], [8, 3, 2, 3], [1, 3]];

/** The i-th colour of the palette (it repeats past eight). */
export const paletteColour = (i: number): string => OKABE_ITO[i % OKABE_ITO.length];
/** The i-th dash pattern (it repeats past five). */
export const dashPattern = (i: number): number[] => DASHES[i % DASHES.length];

/** A run's colour and dash for one metric: by metric for a lone run, by run (dashed by metric) for several. */
export function colourFor(runCount: number, runIndex: number, metricIndex: number): { color: string; dash: number[] } {
  if (runCount <= 1) return { color: paletteColour(metricIndex), dash: [] };
  return { color: paletteColour(runIndex), dash: dashPattern(metricIndex) };
}
