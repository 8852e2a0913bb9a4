/**
 * Perception-aware credit assignment for multimodal RLVR: shared/ALGORITHMS.md §1–§6 as pure functions
 * over plain arrays. No Node, vscode or DOM imports: the trainer, the CLI and the webview share it.
 */
export type { AlgorithmName, ViewName } from '../run/schema';
export * from './types';
export * from './stats';
export * from './kl';
export * from './config';
export * from './validate';
export * from './outcome';
export * from './vppo';
export * from './pgpo';
export * from './prpo';
export * from './controls';
export * from './dependency';
export * from './registry';
export * from './advantages';
export * from './loss';
