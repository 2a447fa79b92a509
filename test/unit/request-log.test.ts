/**
 * The api's request lines (common/request-log.ts): what agents send it succeeds thousands of times a
 * minute on a large fleet, so it logs at debug; its failures, and every request from an admin, at their
 * usual levels.
 */
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { isAgentRequest } from '../../api/request-context.js';
import { requestLog } from '../../common/request-log.js';
import type { Caller } from '../../api/auth.js';

/** A server whose only route answers with the status asked for, as the caller named in the query. */
async function serve(level: string): Promise<{ url: string; lines: Record<string, unknown>[]; close: () => Promise<void> }> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const app = express();
  app.use(requestLog(pino({ level }, sink), () => ({}), isAgentRequest));
  app.get('/answer/:status', (req, res) => {
    const caller: Caller = req.query.as === 'admin' ? { role: 'admin' } : { role: 'computer', agentId: 'pc-1' };
    res.locals.caller = caller;
    res.status(Number(req.params.status)).end();
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, lines, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

let close: (() => Promise<void>) | undefined;
afterEach(() => close?.());

/** Sends each request in turn and returns the levels of the lines they left. */
async function levelsOf(level: string, paths: string[]): Promise<Record<string, unknown>> {
  const server = await serve(level);
  close = server.close;
  for (const path of paths) await (await fetch(`${server.url}${path}`)).arrayBuffer();
  // pino writes to its stream synchronously, and a line is written once its response has finished.
  await new Promise((resolve) => setImmediate(resolve));
  return Object.fromEntries(server.lines.map((line) => [(line.req as { url: string }).url, line.level]));
}

describe('request lines', () => {
  it('leave out agents’ successful requests at the info level, and keep their failures and admins’ requests', async () => {
    const levels = await levelsOf('info', ['/answer/200?as=computer', '/answer/404?as=computer', '/answer/503?as=computer', '/answer/200?as=admin']);
    expect(levels).toEqual({ '/answer/404?as=computer': 40, '/answer/503?as=computer': 50, '/answer/200?as=admin': 30 });
  });

  it('log agents’ successful requests at debug', async () => {
    const levels = await levelsOf('debug', ['/answer/200?as=computer', '/answer/200?as=admin']);
    expect(levels).toEqual({ '/answer/200?as=computer': 20, '/answer/200?as=admin': 30 });
  });
});
