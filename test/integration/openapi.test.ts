/**
 * The OpenAPI document against the api's real answers: a whole stack with a relay and two computers runs
 * an install job, an offer its user accepts, a cancelled and rerun job and a retirement, while every
 * request (the agents' and the admin's) goes through a recording proxy. Each answer must be one its route
 * documents, and every JSON answer must match the document's schema for it; every route must have answered
 * a success at least once. The document itself must be valid OpenAPI 3.1, and the reference page must load
 * its assets from the api alone.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiProxy, type Exchange } from '../support/api-proxy.js';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { ADMIN_TOKEN, ENROLL_SECRET, TestStack } from '../support/stack.js';
import { eventually } from '../support/temporal.js';

interface DocumentedOperation {
  method: string;
  path: string;
  pattern: RegExp;
  responses: Record<string, { content?: Record<string, unknown> }>;
}

let stack: TestStack;
let proxy: ApiProxy;
let document: any;
let documented: DocumentedOperation[];
const validators = new Map<string, ValidateFunction>();

/** Every client request of this file goes through the proxy, which the stack's own calls then use too. */
const throughProxy = (url: string, init?: RequestInit) => fetch(url.replace(stack.apiUrl, proxy.url), init);

async function admin(method: string, path: string, body?: unknown) {
  return stack.request(method, path, body);
}

function operationsOf(openapi: any): DocumentedOperation[] {
  return Object.entries(openapi.paths as Record<string, Record<string, any>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      method: method.toUpperCase(),
      path,
      pattern: new RegExp(`^${path.replace(/\{\w+\}/g, '[^/]+')}$`),
      responses: operation.responses,
    })),
  );
}

/** The validator of the JSON answer `status` of `operation`, compiled once against the whole document. */
function validatorOf(ajv: Ajv2020, operation: DocumentedOperation, status: string): ValidateFunction {
  const key = `${operation.method} ${operation.path} ${status}`;
  let validate = validators.get(key);
  if (!validate) {
    const pointer = ['paths', operation.path, operation.method.toLowerCase(), 'responses', status, 'content', 'application/json', 'schema']
      .map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1'))
      .join('/');
    validate = ajv.compile({ $ref: `courier#/${pointer}` });
    validators.set(key, validate);
  }
  return validate;
}

beforeAll(async () => {
  stack = await TestStack.start({ fetch: (input, init) => throughProxy(input as string, init) });
  proxy = await ApiProxy.start(stack.apiUrl);
  const serverUrl = proxy.url;
  await stack.startAgent({ role: 'relay', name: 'relay-1', serverUrl });
  await stack.startAgent({ role: 'computer', name: 'pc-1', relay: 'relay-1', page: true, serverUrl });
  await stack.startAgent({ role: 'computer', name: 'pc-2', labels: { site: 'osaka' }, serverUrl });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await proxy?.stop();
});

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1, served without a token, with a reference page that loads nothing from elsewhere', async () => {
    const answer = await fetch(`${proxy.url}/api/v1/openapi.json`);
    expect(answer.status).toBe(200);
    document = await answer.json();
    expect(document.openapi).toMatch(/^3\.1\./);
    await SwaggerParser.validate(structuredClone(document));
    documented = operationsOf(document);

    const page = await fetch(`${proxy.url}/api/v1/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map(([, url]) => url!);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      expect(asset.startsWith('/api/v1/')).toBe(true);
      expect((await fetch(`${proxy.url}${asset}`)).status).toBe(200);
    }
  });

  it('describes every answer of a job-filled day on the real stack', async () => {
    expect((await fetch(`${proxy.url}/api/v1/health`)).status).toBe(200);
    const archive = await makeTarGz({ 'install.sh': 'echo ok > "$COURIER_TARGET_DIR/openapi-installed"\n' });
    const pkg = (await uploadPackage(stack, { name: 'documented', version: '1.0.0', installCommand: 'sh install.sh' }, archive)).body;
    expect(pkg.id).toBeDefined();
    expect((await admin('GET', '/packages')).status).toBe(200);
    expect((await admin('PATCH', `/packages/${pkg.id}`, { relayExpiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString() })).status).toBe(200);
    const download = await throughProxy(`${stack.apiUrl}/api/v1/packages/${pkg.id}/content`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, range: 'bytes=0-9' },
    });
    expect(download.status).toBe(206);

    const install = await admin('POST', '/jobs', { type: 'install', packageId: pkg.id, targets: { computers: ['pc-1', 'pc-2'] } });
    expect(install.status).toBe(201);
    expect((await stack.finishedJob(install.body.id)).status).toBe('completed');
    expect((await admin('GET', `/jobs/${install.body.id}?state=installed&targetsLimit=1`)).body.targetsNextCursor).not.toBeNull();

    const offer = await admin('POST', '/jobs', { type: 'offer', packageId: pkg.id, targets: { computers: ['pc-1'] } });
    expect(offer.status).toBe(201);
    const pageUrl = stack.agents.get('pc-1')!.pageUrl!;
    await eventually(async () => {
      const chosen = await fetch(`${pageUrl}/api/offers/${offer.body.id}/choice`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ choice: 'install' }),
      });
      return chosen.status === 202 ? true : undefined;
    }, 30_000, 'the offer to reach pc-1');
    expect((await stack.finishedJob(offer.body.id)).status).toBe('completed');

    // A rollout whose every install fails pauses after its first wave, and goes on when resumed.
    const broken = (await uploadPackage(stack, { name: 'broken', version: '1.0.0', installCommand: 'exit 3' }, archive)).body;
    const rollout = await admin('POST', '/jobs', { type: 'install', packageId: broken.id, targets: { computers: ['pc-1', 'pc-2'] }, rollout: { waves: [1], failureThreshold: 0 } });
    expect(rollout.status).toBe(201);
    await eventually(async () => ((await admin('GET', `/jobs/${rollout.body.id}`)).body.status === 'paused' ? true : undefined), 30_000, 'the rollout to pause');
    expect((await admin('POST', `/jobs/${rollout.body.id}/resume`)).status).toBe(202);
    expect((await stack.finishedJob(rollout.body.id)).counts).toEqual({ failed: 2 });

    const later = new Date(Date.now() + 3_600_000).toISOString();
    const waiting = await admin('POST', '/jobs', { type: 'install', packageId: pkg.id, targets: { computers: ['pc-2'] }, scheduledAt: later });
    expect((await admin('POST', `/jobs/${waiting.body.id}/cancel`)).status).toBe(202);
    expect((await stack.finishedJob(waiting.body.id)).status).toBe('cancelled');
    const rerun = await admin('POST', `/jobs/${waiting.body.id}/rerun`);
    expect(rerun.status).toBe(201);
    expect((await admin('POST', `/jobs/${rerun.body.id}/cancel`)).status).toBe(202);
    await stack.finishedJob(rerun.body.id);

    // A window defined once by name, named by a job, which keeps its copy when the window is deleted.
    const nights = { days: ['mon', 'tue'], start: '22:00', end: '06:00', timezone: 'Asia/Tokyo' };
    expect((await admin('PUT', '/windows/nights', nights)).status).toBe(201);
    expect((await admin('PUT', '/windows/nights', { ...nights, days: ['wed'] })).status).toBe(200);
    const atNight = await admin('POST', '/jobs', { type: 'install', packageId: pkg.id, targets: { computers: ['pc-2'] }, scheduledAt: later, window: 'nights' });
    expect([atNight.status, atNight.body.windowName, atNight.body.window.days]).toEqual([201, 'nights', ['wed']]);
    expect((await admin('GET', '/windows')).body.items.map((window: { name: string }) => window.name)).toEqual(['nights']);
    expect((await admin('DELETE', '/windows/nights')).status).toBe(200);
    expect((await admin('GET', `/jobs/${atNight.body.id}`)).body.window.days).toEqual(['wed']);
    expect((await admin('POST', `/jobs/${atNight.body.id}/cancel`)).status).toBe(202);

    const labelled = await admin('GET', '/computers?label=site=osaka');
    expect(labelled.body.items.map((computer: { name: string }) => computer.name)).toEqual(['pc-2']);
    expect((await admin('PATCH', '/computers/pc-1', { labels: { ring: 'canary', site: null } })).body.labels).toEqual({ ring: 'canary' });
    expect((await admin('PATCH', '/relays/relay-1', { bandwidthLimit: null })).body.bandwidthLimit).toBeNull();
    for (const path of ['/jobs?status=completed', `/jobs?computer=pc-1&limit=1`, '/computers', '/computers?relay=relay-1&online=true', '/computers/pc-1', '/computers/pc-1/jobs', '/relays', '/audit?limit=5']) {
      expect((await admin('GET', path)).status, path).toBe(200);
    }
    expect((await admin('GET', `/packages/${pkg.id}`)).body.servedBytes.length).toBeGreaterThan(0);

    const spare = await uploadPackage(stack, { name: 'spare', version: '1.0.0', installCommand: 'true' }, archive);
    expect((await admin('DELETE', `/packages/${spare.body.id}`)).status).toBe(200);
    expect((await admin('DELETE', `/packages/${pkg.id}`)).status).toBe(200);

    const rotated = await admin('POST', '/enroll-secret/rotate');
    expect(rotated.status).toBe(201);
    for (const role of ['computer', 'relay']) {
      const enrolled = await throughProxy(`${stack.apiUrl}/api/v1/enroll`, {
        method: 'POST',
        headers: { authorization: `Bearer ${rotated.body.enrollSecret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ role, name: `${role}-spare`, url: 'http://127.0.0.1:9' }),
      });
      expect(enrolled.status).toBe(201);
      const { id } = (await enrolled.json()) as { id: string };
      expect((await admin('POST', `/${role}s/${id}/reset`)).status).toBe(200);
    }
    expect(rotated.body.enrollSecret).not.toBe(ENROLL_SECRET);
    expect((await throughProxy(`${stack.apiUrl}/metrics`)).status).toBe(200);

    // Refusals are answers too: each must be documented and carry the error shape.
    expect((await admin('POST', '/jobs', {})).status).toBe(400);
    expect((await admin('GET', '/jobs/not-a-job')).status).toBe(404);
    expect((await admin('GET', '/computers?online=maybe')).status).toBe(400);
    expect((await throughProxy(`${stack.apiUrl}/api/v1/jobs`)).status).toBe(401);

    const ajv = new Ajv2020({ allErrors: true, strict: false });
    // ajv-formats is CommonJS: its plugin is the default export of its exports object.
    addFormats.default(ajv);
    ajv.addSchema(document, 'courier');
    const problems: string[] = [];
    const succeeded = new Set<string>();
    for (const exchange of proxy.exchanges) problems.push(...check(ajv, exchange, succeeded));
    expect(problems).toEqual([]);
    const unanswered = documented.filter((operation) => !succeeded.has(`${operation.method} ${operation.path}`)).map((o) => `${o.method} ${o.path}`);
    expect(unanswered).toEqual([]);
  }, 180_000);
});

/** What is wrong with one exchange as the document tells it; records the operations that answered a success. */
function check(ajv: Ajv2020, exchange: Exchange, succeeded: Set<string>): string[] {
  const what = `${exchange.method} ${exchange.path} → ${exchange.status}`;
  if (exchange.path.startsWith('/api/v1/docs/assets/')) return [];
  const operation = documented.find((candidate) => candidate.method === exchange.method && candidate.pattern.test(exchange.path));
  if (!operation) return [`${what}: no documented route`];
  const status = String(exchange.status);
  const response = operation.responses[status] ?? (exchange.status >= 500 ? operation.responses.default : undefined);
  if (!response) return [`${what}: status not documented`];
  if (exchange.status < 300) succeeded.add(`${operation.method} ${operation.path}`);
  const declared = Object.keys(response.content ?? {});
  const mediaType = exchange.contentType.split(';')[0]!.trim();
  if (!declared.includes(mediaType)) return [`${what}: ${mediaType} where the document says ${declared.join(' or ')}`];
  if (mediaType !== 'application/json') return [];
  const validate = validatorOf(ajv, operation, operation.responses[status] ? status : 'default');
  if (validate(JSON.parse(exchange.body.toString('utf8')))) return [];
  return [`${what}: ${ajv.errorsText(validate.errors)}`];
}
