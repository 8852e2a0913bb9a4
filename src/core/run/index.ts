/** The run directory: types, validation, writer, reader, checkpoints, PNG images, importers. */
export * from './schema';
export * from './validate';
export * from './lines';
export * from './tokenFields';
export * from './reader';
export * from './writer';
export * from './checkpoint';
export * from './png';
export * from './importers';
