/**
 * The access matrix (DESIGN §6): every route the api serves, read from its own router, called by every
 * kind of caller, answers as its rule says. A new route without a rule here fails the first test, so no
 * route ships without a decision about who may call it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations } from '../../api/openapi/operations.js';
import { startInProcessApi, type InProcessApi } from '../support/in-process-api.js';
import { makeTarGz } from '../support/packages.js';
import { routesOf, type RouteEntry } from '../support/route-table.js';

/** Who may call a route. */
type Rule = 'anyone' | 'admin' | 'enrolment secret' | 'admin or agent' | 'agent' | 'own computer';

const rules: Record<string, Rule> = {
  'GET /api/v1/health': 'anyone',
  'GET /api/v1/openapi.json': 'anyone',
  'GET /api/v1/docs': 'anyone',
  'POST /api/v1/packages': 'admin',
  'GET /api/v1/packages': 'admin',
  'GET /api/v1/packages/:id': 'admin',
  'PATCH /api/v1/packages/:id': 'admin',
  'DELETE /api/v1/packages/:id': 'admin',
  'GET /api/v1/packages/:id/content': 'admin or agent',
  'POST /api/v1/enroll': 'enrolment secret',
  'POST /api/v1/check-in': 'agent',
  'POST /api/v1/enroll-secret/rotate': 'admin',
  'GET /api/v1/relays': 'admin',
  'PATCH /api/v1/relays/:id': 'admin',
  'GET /api/v1/computers': 'admin',
  'GET /api/v1/computers/:id': 'admin',
  'PATCH /api/v1/computers/:id': 'admin',
  'GET /api/v1/computers/:id/jobs': 'admin',
  'POST /api/v1/computers/:id/reset': 'admin',
  'POST /api/v1/relays/:id/reset': 'admin',
  'POST /api/v1/jobs': 'admin',
  'GET /api/v1/jobs': 'admin',
  'GET /api/v1/jobs/:id': 'admin',
  'POST /api/v1/jobs/:id/cancel': 'admin',
  'POST /api/v1/jobs/:id/rerun': 'admin',
  'POST /api/v1/jobs/:id/resume': 'admin',
  'POST /api/v1/jobs/:id/choices': 'own computer',
  'POST /api/v1/jobs/:id/reports': 'own computer',
  'GET /api/v1/windows': 'admin',
  'PUT /api/v1/windows/:name': 'admin',
  'DELETE /api/v1/windows/:name': 'admin',
  'GET /api/v1/audit': 'admin',
  // Or the metrics token, which this matrix's callers do not hold; anyone while the api listens on loopback
  // only (test/integration/operations.test.ts).
  'GET /metrics': 'admin',
};

const callers = ['no token', 'unknown token', 'enrolment secret', 'admin', 'relay', 'computer', 'another computer'] as const;
type CallerName = (typeof callers)[number];

/**
 * What a caller gets: a refusal with this status; `not its own` (403 or 404: a job that is not the caller's,
 * which it learns nothing more of); or past the guard (any answer but 401, 403 and 500).
 */
type Expected = 401 | 403 | 'not its own' | 'allowed';
/** An answer, as `classify` states it: one of `Expected`, or the status that matched none. */
type Answered = number | 'not its own' | 'allowed';

function expected(rule: Rule, caller: CallerName): Expected {
  if (caller === 'no token' || caller === 'unknown token') return rule === 'anyone' ? 'allowed' : 401;
  switch (rule) {
    case 'anyone':
      return 'allowed';
    case 'enrolment secret':
      return caller === 'enrolment secret' ? 'allowed' : 401;
    case 'admin':
      return caller === 'admin' ? 'allowed' : caller === 'enrolment secret' ? 401 : 403;
    case 'admin or agent':
      return caller === 'enrolment secret' ? 401 : 'allowed';
    case 'agent':
      return caller === 'admin' ? 403 : caller === 'enrolment secret' ? 401 : 'allowed';
    case 'own computer':
      if (caller === 'computer') return 'allowed';
      return caller === 'another computer' ? 'not its own' : caller === 'enrolment secret' ? 401 : 403;
  }
}

let api: InProcessApi;
/** The enrolment secret as it is now: the rotation route replaces it. */
let enrollSecret: string;
let routes: RouteEntry[];
const tokens: Partial<Record<CallerName, string>> = {};
/** The jobs the own-computer routes are called on: an install job and an offer job for `computer` only. */
const ownJobs: Record<string, string> = {};
let packageId: string;

async function call(method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${api.base}${path}`, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

async function enrol(role: 'relay' | 'computer', name: string): Promise<string> {
  const answer = await call('POST', '/api/v1/enroll', enrollSecret, { role, name, url: 'http://127.0.0.1:9' });
  expect(answer.status).toBe(201);
  return answer.body.token as string;
}

beforeAll(async () => {
  api = await startInProcessApi('access');
  enrollSecret = api.enrollSecret;
  routes = routesOf(api.app);
  const { adminToken } = api;

  tokens.admin = adminToken;
  tokens['unknown token'] = randomBytes(32).toString('base64url');
  tokens.relay = await enrol('relay', 'relay-a');
  tokens.computer = await enrol('computer', 'pc-own');
  tokens['another computer'] = await enrol('computer', 'pc-other');

  const form = new FormData();
  form.append('manifest', JSON.stringify({ name: 'access', version: '1.0.0', installCommand: 'true' }));
  form.append('content', new Blob([await makeTarGz({ 'a.txt': 'a' })]), 'access.tar.gz');
  const upload = await fetch(`${api.base}/api/v1/packages`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` }, body: form });
  packageId = ((await upload.json()) as { id: string }).id;
  const scheduledAt = new Date(Date.now() + 3600_000).toISOString();
  for (const type of ['install', 'offer']) {
    const job = await call('POST', '/api/v1/jobs', adminToken, { type, packageId, targets: { computers: ['pc-own'] }, scheduledAt });
    expect(job.status).toBe(201);
    ownJobs[type] = job.body.id as string;
  }
});

afterAll(async () => {
  await api?.stop();
});

/** The token a caller sends; the enrolment secret is read at each call, since a rotation replaces it. */
function tokenOf(caller: CallerName): string | undefined {
  return caller === 'enrolment secret' ? enrollSecret : tokens[caller];
}

/** A request to `route` that passes validation where it can, so the guard's answer is what shows. */
function requestOf(route: RouteEntry): { path: string; body?: unknown } {
  const own = route.path.endsWith('/choices') ? ownJobs.offer : ownJobs.install;
  const path = route.path.replace(':id', route.path.startsWith('/api/v1/jobs/:id/') && rules[key(route)] === 'own computer' ? own! : randomUUID());
  if (route.path.endsWith('/reports')) return { path, body: { kind: 'install', packageId, state: 'downloading', updatedAt: new Date().toISOString() } };
  if (route.path.endsWith('/choices')) return { path, body: { choice: 'decline' } };
  return { path, body: route.method === 'GET' ? undefined : {} };
}

/** The answer in the terms of `Expected`, so that one comparison shows every caller's mismatch at once. */
function classify(rule: Expected, status: number): Answered {
  if (rule === 'allowed' && status !== 401 && status !== 403) return 'allowed';
  if (rule === 'not its own' && (status === 403 || status === 404)) return 'not its own';
  return status;
}

function key(route: RouteEntry): string {
  return `${route.method} ${route.path}`;
}

describe('access matrix', () => {
  it('has a rule for every route the api serves, and none for a route it does not', () => {
    expect(routes.map(key).sort()).toEqual(Object.keys(rules).sort());
  });

  it('the OpenAPI document describes the same routes, each with the access tested here', () => {
    // The document's `metrics` access is this matrix's `admin` for the callers it has (see the rule above).
    const documented = Object.fromEntries(
      operations.map((operation) => [`${operation.method.toUpperCase()} ${operation.path}`, operation.access === 'metrics' ? 'admin' : operation.access]),
    );
    expect(documented).toEqual(rules);
  });

  it('the metrics token scrapes GET /metrics and opens nothing else', async () => {
    const scrape = await fetch(`${api.base}/metrics`, { headers: { authorization: `Bearer ${api.metricsToken}` } });
    expect([scrape.status, await scrape.text()]).toEqual([200, expect.stringContaining('courier_jobs{type="install",status="scheduled"} 1')]);
    expect((await call('GET', '/api/v1/jobs', api.metricsToken)).status).toBe(401);
    expect((await call('GET', '/api/v1/computers', api.metricsToken)).status).toBe(401);
  });

  it.each(Object.keys(rules))('%s answers each caller as its rule says', async (routeKey) => {
    const [method, pattern] = routeKey.split(' ') as [string, string];
    const route = { method, path: pattern };
    const answers: Record<string, Answered> = {};
    // Every caller, then one comparison: a failure shows the whole row of the matrix.
    const wanted: Record<string, Expected> = {};
    for (const caller of callers) {
      const { path, body } = requestOf(route);
      const answer = await call(method, path, tokenOf(caller), body);
      if (routeKey === 'POST /api/v1/enroll-secret/rotate' && answer.status === 201) enrollSecret = answer.body.enrollSecret as string;
      const rule = expected(rules[routeKey]!, caller);
      expect(answer.status, `${caller}: ${JSON.stringify(answer.body)}`).not.toBe(500);
      answers[caller] = classify(rule, answer.status);
      wanted[caller] = rule;
    }
    expect(answers).toEqual(wanted);
  });
});
