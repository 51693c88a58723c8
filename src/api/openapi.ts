import { JOB_STATUSES } from '../contract/ids.js';

/** One route module's part of the OpenAPI document: its paths and the schemas they name. */
export interface ApiFragment {
  /** OpenAPI paths (`/api/v1/jobs/{id}`), each with its operations by lower-case method. */
  paths: Record<string, Record<string, Operation>>;
  /** Schemas for `#/components/schemas/<name>`. */
  schemas: Record<string, unknown>;
}

/** An OpenAPI operation object (the parts this project writes). */
export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  security?: unknown[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
}

/** The schema of every error answer. */
export const ERROR_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['error'],
  properties: {
    error: {
      type: 'object', additionalProperties: false, required: ['code', 'message'],
      properties: { code: { type: 'string', pattern: '^[A-Z][A-Z0-9_]+$' }, message: { type: 'string' } },
    },
  },
} as const;

/** An error answer with its codes named in the description. */
export function errorResponse(description: string): Record<string, unknown> {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
}

/** A JSON answer with a schema. */
export function jsonResponse(description: string, schema: unknown): Record<string, unknown> {
  return { description, content: { 'application/json': { schema } } };
}

/** The answers every operation can give: the service is down, or a bug. */
const ALWAYS = {
  500: errorResponse('`INTERNAL_ERROR`: a bug; the event was logged'),
  503: errorResponse('`DATABASE_UNAVAILABLE`, `OVERLOADED`, `BROKER_UNAVAILABLE`: try again (`Retry-After`)'),
};

/** The answers of an operation that needs a token with a role that may do it. */
const SECURED = {
  401: errorResponse('`UNAUTHORIZED`: no token, or a malformed, unknown or revoked one (`WWW-Authenticate: Bearer`)'),
  403: errorResponse('`FORBIDDEN`: the token\'s role may not do this'),
};

/** The `{id}` path parameter and the answers it brings. */
export const JOB_ID_PARAMETER = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[1-9][0-9]{0,17}$' } };
export const JOB_ID_ANSWERS = {
  400: errorResponse('`INVALID_JOB_ID`: the id is not a positive integer'),
  404: errorResponse('`JOB_NOT_FOUND`: no such job, or another owner\'s (a submit token sees its owner\'s jobs only)'),
};

/** `?wait=`: the long-polled read of one job (src/http/long-poll.ts), and what it adds to the answers. */
export const WAIT_PARAMETER = {
  name: 'wait', in: 'query', required: false, schema: { type: 'string', pattern: '^[0-9]{1,2}$' },
  description: 'Seconds (0-60) to hold the answer until the job has ended (Success or Fail); the answer comes at the end or when the time is up, in the same shape either way',
};
export const WAIT_ANSWERS = {
  400: errorResponse('`INVALID_JOB_ID`: the id is not a positive integer; `INVALID_PARAMETER`: `wait` is not 0 to 60 whole seconds, or given twice'),
};

/** An operation that needs a token: adds the auth and always-possible answers. */
export function secured(op: Operation): Operation {
  return { ...op, security: [{ bearer: [] }], responses: { ...SECURED, ...ALWAYS, ...op.responses } };
}

/** An operation anyone may call. */
export function open(op: Operation): Operation {
  return { ...op, security: [], responses: { ...ALWAYS, ...op.responses } };
}

/** Schemas shared by every fragment. */
const COMMON_SCHEMAS = { Error: ERROR_SCHEMA, JobStatus: { type: 'string', enum: [...JOB_STATUSES] } };

/**
 * Merges route modules' fragments into one OpenAPI 3.1 document. A path and method documented
 * twice, or one schema name with two meanings, is a programming error and throws.
 */
export function buildOpenApi(fragments: readonly ApiFragment[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, Operation>> = {};
  const schemas: Record<string, unknown> = { ...COMMON_SCHEMAS };
  for (const f of fragments) {
    for (const [path, ops] of Object.entries(f.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        paths[path] ??= {};
        if (paths[path][method]) throw new Error(`OpenAPI: ${method.toUpperCase()} ${path} is documented twice`);
        paths[path][method] = op;
      }
    }
    for (const [name, schema] of Object.entries(f.schemas)) {
      if (name in schemas && JSON.stringify(schemas[name]) !== JSON.stringify(schema)) throw new Error(`OpenAPI: schema ${name} is defined twice`);
      schemas[name] = schema;
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Menagerie', version,
      description: 'Runs file analyzers ("engines") in hardened one-shot containers. The original API (upload, result, link, '
        + 'job details) and API v1. Every route needs `Authorization: Bearer <token>` unless the appliance runs with '
        + '`auth.mode: "open"`. Errors are `{"error":{"code","message"}}`. A method a path does not take answers 405 '
        + '`METHOD_NOT_ALLOWED` with `Allow`; an unknown path 404 `NOT_FOUND`.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an API token (`menagerie token create`)' } },
    },
  };
}
