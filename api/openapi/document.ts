/**
 * The OpenAPI 3.1 document, generated from the operation table (operations.ts) and its zod schemas with
 * zod's own JSON Schema conversion: bodies as clients send them (`io: 'input'`), answers as the api writes
 * them (`io: 'output'`). Built once, on first request.
 */
import { z } from 'zod';
import { COURIER_VERSION } from '../../common/version.js';
import { answerSchemas, operations, requestSchemas, type Access, type Answer, type Operation, type RawContent } from './operations.js';

type JsonSchema = Record<string, unknown>;
type Io = 'input' | 'output';

const COMPONENTS = '#/components/schemas/';

const tags = [
  { name: 'Packages', description: 'Software packaged once: a signed manifest and its content.' },
  { name: 'Jobs', description: 'Install, transfer and offer jobs, and what computers report on them.' },
  { name: 'Agents', description: 'Enrolment, identity and check-ins of relays and computers.' },
  { name: 'Inventory', description: 'The relays and computers enrolled, and what each has.' },
  { name: 'Operations', description: 'Health, metrics, the audit trail and this reference.' },
];

const securitySchemes = {
  adminToken: { type: 'http', scheme: 'bearer', description: 'The admin token (COURIER_ADMIN_TOKEN).' },
  agentToken: { type: 'http', scheme: 'bearer', description: 'A relay or computer token, issued at enrolment.' },
  enrollSecret: { type: 'http', scheme: 'bearer', description: 'The enrolment secret (COURIER_ENROLL_SECRET, or as last rotated).' },
  metricsToken: { type: 'http', scheme: 'bearer', description: 'COURIER_METRICS_TOKEN: opens GET /metrics and nothing else.' },
};

const securityOf: Record<Access, Record<string, string[]>[]> = {
  anyone: [],
  admin: [{ adminToken: [] }],
  'enrolment secret': [{ enrollSecret: [] }],
  agent: [{ agentToken: [] }],
  'own computer': [{ agentToken: [] }],
  'admin or agent': [{ adminToken: [] }, { agentToken: [] }],
  // `{}`: no token at all, while the api listens on loopback only.
  metrics: [{}, { metricsToken: [] }, { adminToken: [] }],
};

const rawContent: Record<RawContent, Record<string, { schema: JsonSchema }>> = {
  'octet-stream': { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
  prometheus: { 'text/plain': { schema: { type: 'string' } } },
  html: { 'text/html': { schema: { type: 'string' } } },
  openapi: { 'application/json': { schema: { type: 'object' } } },
};

/** The dialect and the component's own `$id` are the document's to state, once. */
function withoutIds({ $schema: _dialect, $id: _id, ...schema }: JsonSchema): JsonSchema {
  return schema;
}

/**
 * How zod's conversion runs here: values it cannot state in JSON Schema (a transform's result) become `{}`,
 * and a UUID or a date-time says so by its `format` alone, without the long pattern zod checks it with.
 */
function conversion(io: Io) {
  return {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    override: ({ jsonSchema }: { jsonSchema: JsonSchema }) => {
      if (jsonSchema.format === 'uuid' || jsonSchema.format === 'date-time') delete jsonSchema.pattern;
    },
  } as const;
}

function jsonSchema(schema: z.ZodType, io: Io): JsonSchema {
  return withoutIds(z.toJSONSchema(schema, conversion(io)));
}

/** The named schemas of one direction, as components. */
function componentsOf(schemas: Record<string, z.ZodType>, io: Io): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const converted = z.toJSONSchema(registry, { ...conversion(io), uri: (id) => `${COMPONENTS}${id}` }) as { schemas: Record<string, JsonSchema> };
  return Object.fromEntries(Object.entries(converted.schemas).map(([id, schema]) => [id, withoutIds(schema)]));
}

/** A reference to `schema` when it is named, else the schema itself. */
function schemaRef(schema: z.ZodType, io: Io): JsonSchema {
  const names = io === 'input' ? requestSchemas : answerSchemas;
  const name = Object.entries(names).find(([, named]) => named === schema)?.[0];
  return name ? { $ref: `${COMPONENTS}${name}` } : jsonSchema(schema, io);
}

/** `/api/v1/jobs/:id` → `/api/v1/jobs/{id}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

function parameters(operation: Operation): JsonSchema[] {
  const path = [...operation.path.matchAll(/:(\w+)/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    description: name === 'name' ? 'the name' : operation.path.startsWith('/api/v1/computers/') ? 'the id, or the name' : 'the id',
    schema: { type: 'string' },
  }));
  if (!operation.query) return path;
  const query = jsonSchema(operation.query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  const fields = Object.entries(query.properties ?? {}).map(([name, schema]) => ({
    name,
    in: 'query',
    required: query.required?.includes(name) ?? false,
    schema,
  }));
  return [...path, ...fields];
}

function requestBody(body: NonNullable<Operation['body']>): JsonSchema {
  if (body === 'package upload') {
    return {
      required: true,
      content: {
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: ['manifest', 'content'],
            properties: {
              manifest: { $ref: `${COMPONENTS}PackageManifest` },
              content: { type: 'string', contentMediaType: 'application/octet-stream', description: "the package's file" },
            },
          },
          encoding: { manifest: { contentType: 'application/json' } },
        },
      },
    };
  }
  return { required: true, content: { 'application/json': { schema: schemaRef(body, 'input') } } };
}

function answer({ description, schema, raw }: Answer): JsonSchema {
  if (raw) return { description, content: rawContent[raw] };
  return { description, content: { 'application/json': { schema: schemaRef(schema!, 'output') } } };
}

const errorAnswer = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: `${COMPONENTS}ErrorAnswer` } } } });

function operationObject(operation: Operation): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, spec] of Object.entries(operation.answers)) responses[status] = answer(spec);
  for (const [status, why] of Object.entries(operation.errors)) responses[status] = errorAnswer(why);
  responses.default = errorAnswer('500 internal, or 503 while PostgreSQL or Temporal does not answer');
  return {
    operationId: operation.operationId,
    tags: [operation.tag],
    summary: operation.summary,
    ...(operation.description && { description: operation.description }),
    security: securityOf[operation.access],
    parameters: parameters(operation),
    ...(operation.body && { requestBody: requestBody(operation.body) }),
    responses,
  };
}

function build(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const operation of operations) {
    const path = (paths[openApiPath(operation.path)] ??= {});
    path[operation.method] = operationObject(operation);
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'Courier',
      version: COURIER_VERSION,
      description:
        'Software distribution for fleets of managed computers. Admins upload packages and create jobs; relays and ' +
        'computers enrol, check in and report. Every error answers `{"error": {code, message, details?}}`.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags,
    paths,
    components: {
      schemas: { ...componentsOf(requestSchemas, 'input'), ...componentsOf(answerSchemas, 'output') },
      securitySchemes,
    },
  };
}

let built: JsonSchema | undefined;

/** The document (built on first use; the table never changes while the api runs). */
export function openApiDocument(): JsonSchema {
  built ??= build();
  return built;
}
