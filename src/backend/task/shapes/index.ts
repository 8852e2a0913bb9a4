export * from './vocab';
export * from './generate';
export * from './reward';
