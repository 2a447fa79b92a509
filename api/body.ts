/**
 * JSON body parsers, placed on each route after its auth guard so bodies of unauthenticated requests are
 * never parsed. express.json skips requests that are not JSON, which then fail schema validation (400).
 */
import express from 'express';

/** Every JSON body but a job's. */
export const jsonBody = express.json({ limit: '1mb' });

/** POST /jobs may name up to 100,000 targets by id, about 4 MB of JSON. */
export const jobJsonBody = express.json({ limit: '8mb' });
