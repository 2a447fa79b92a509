/** Every workflow the worker registers; exported names are the workflow types in common/workflows.ts. */
export { installJob } from './install-job.js';
export { installBatch } from './install-batch.js';
export { transferJob } from './transfer-job.js';
export { relayCopy } from './relay-copy.js';
export { offerJob } from './offer-job.js';
export { offerBatch } from './offer-batch.js';
export { jobRelayStaging } from './relay-staging.js';
