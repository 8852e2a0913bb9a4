/** Ray Jobs from TypeScript: the REST client, the WebSocket log follow, our jobs, runtime_env uploads, and stop with a checkpoint first. */
export * from './errors';
export * from './client';
export * from './follow';
export * from './jobs';
export * from './packages';
export * from './stop';
