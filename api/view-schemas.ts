/**
 * Building blocks of the response schemas. Each service declares the views it answers with as zod schemas
 * and takes their TypeScript types from them, so the OpenAPI document (api/openapi/document.ts) and the
 * code cannot describe different answers.
 */
import { z } from 'zod';
import { computerStates, relayStates } from '../common/states.js';

/** A moment as the api writes it (Date.toISOString(), in UTC). */
export const timestamp = z.iso.datetime();

/** A row's id. */
export const uuid = z.uuid();

/** A job target's state: a computer's or a relay's. */
export const targetStateSchema = z.union([z.enum(computerStates), z.enum(relayStates)]);

/** How many of a job's targets are in each state; states no target is in are left out. */
export const stateCountsSchema = z.partialRecord(targetStateSchema, z.number().int().nonnegative());
