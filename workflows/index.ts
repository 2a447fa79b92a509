/** Every workflow the worker registers; exported names are the workflow types in common/workflows.ts. */
export { installJob } from './install-job.js';
export { installBatch, offerBatch } from './computer-batch.js';
export { transferJob } from './transfer-job.js';
export { relayCopy } from './relay-copy.js';
export { offerJob } from './offer-job.js';
export { jobRelayStaging } from './relay-staging.js';
