export * from './packages.js';
export * from './agents.js';
export * from './jobs.js';
export * from './relay-copies.js';
export * from './installations.js';
export * from './served-bytes.js';
export * from './audit.js';
export * from './windows.js';
