import { UPLOAD_BAD_REQUEST, UPLOAD_OPTION_ANSWERS, UPLOAD_OPTIONS } from './job-control-openapi.js';
import { PUBLIC_JOB_SCHEMA } from './job-record.js';
import { errorResponse, JOB_ID_ANSWERS, JOB_ID_PARAMETER, jsonResponse, open, secured, WAIT_ANSWERS, WAIT_PARAMETER, type ApiFragment } from './openapi.js';

const JOB_VIEW = {
  type: 'object', additionalProperties: false, required: ['status', 'summary', 'link'],
  properties: { status: { $ref: '#/components/schemas/JobStatus' }, summary: { type: 'string' }, link: { type: 'string' } },
};

const READINESS = {
  type: 'object', additionalProperties: false, required: ['status', 'checks'],
  properties: {
    status: { enum: ['ready', 'not ready'] },
    checks: { type: 'object', additionalProperties: { enum: ['ok', 'failed', 'timeout'] } },
  },
};

const upload = (method: string) => secured({
  operationId: `upload${method}`,
  summary: 'Submit a file to an engine (one job)',
  parameters: [{ name: 'engine', in: 'path', required: true, schema: { type: 'string' } }, ...UPLOAD_OPTIONS],
  requestBody: {
    required: true,
    content: { 'multipart/form-data': { schema: {
      type: 'object', required: ['upload'], properties: { upload: { type: 'string', contentMediaType: 'application/octet-stream' } },
    } } },
  },
  responses: {
    200: jsonResponse('the job was queued', { type: 'object', additionalProperties: false, required: ['jobid'],
      properties: { jobid: { type: 'string', pattern: '^[1-9][0-9]{0,17}$' } } }),
    400: errorResponse(UPLOAD_BAD_REQUEST),
    404: errorResponse('`UNKNOWN_ENGINE`'),
    408: errorResponse('`UPLOAD_TIMEOUT`, `REQUEST_TIMEOUT`'),
    ...UPLOAD_OPTION_ANSWERS,
    413: errorResponse('`UPLOAD_TOO_LARGE` (larger than the engine\'s sizelimit), `BODY_TOO_LARGE`'),
    429: errorResponse('`RATE_LIMITED` (`Retry-After`)'),
    503: errorResponse('`TOO_MANY_UPLOADS`, `DATABASE_UNAVAILABLE`, `OVERLOADED`, `BROKER_UNAVAILABLE` (`Retry-After`)'),
  },
});

const BYTES = { type: 'string', contentMediaType: 'application/octet-stream' };

/** The original Menagerie API (src/http/public-routes.ts and the health route of src/http/app.ts). */
export const ORIGINAL_API: ApiFragment = {
  schemas: { JobView: JOB_VIEW, Job: PUBLIC_JOB_SCHEMA },
  paths: {
    '/{engine}/upload': { post: upload('Post'), put: upload('Put') },
    '/result/{id}': {
      get: secured({ operationId: 'result', summary: 'A job\'s status, summary and result link; with `wait`, once it has ended', parameters: [JOB_ID_PARAMETER, WAIT_PARAMETER],
        responses: { 200: jsonResponse('the job', { $ref: '#/components/schemas/JobView' }), ...JOB_ID_ANSWERS, ...WAIT_ANSWERS } }),
    },
    '/link/{id}': {
      get: secured({ operationId: 'link', summary: 'A finished job\'s result (Success) or error text (Fail)', parameters: [JOB_ID_PARAMETER],
        responses: {
          200: { description: 'the bytes, as an attachment', content: { 'application/octet-stream': { schema: BYTES } } },
          ...JOB_ID_ANSWERS,
          404: errorResponse('`JOB_NOT_FOUND`, `RESULT_MISSING` (removed by retention)'),
          409: errorResponse('`JOB_NOT_FINISHED`'),
        } }),
    },
    '/jobs/{id}': {
      get: secured({ operationId: 'job', summary: 'A job\'s details', parameters: [JOB_ID_PARAMETER],
        responses: { 200: jsonResponse('the job', { $ref: '#/components/schemas/Job' }), ...JOB_ID_ANSWERS } }),
    },
    '/jobs/{id}/log': {
      get: secured({ operationId: 'jobLog', summary: 'The engine\'s output (stdout and stderr, capped); empty before it ran', parameters: [JOB_ID_PARAMETER],
        responses: { 200: { description: 'the output', content: { 'text/plain': { schema: { type: 'string' } } } }, ...JOB_ID_ANSWERS } }),
    },
    '/healthz': {
      get: open({ operationId: 'health', summary: 'Whether the process answers (liveness, no token)',
        responses: { 200: jsonResponse('alive', { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } }) } }),
    },
    '/readyz': {
      get: open({ operationId: 'ready', summary: 'Whether the database, the broker and the file store answer, each within 2 s (readiness, no token)',
        responses: { 200: jsonResponse('ready', READINESS), 503: jsonResponse('a dependency does not answer: its check says failed or timeout', READINESS) } }),
    },
    '/metrics': {
      get: secured({ operationId: 'metrics', summary: 'Prometheus metrics (docs/observability.md); a read or admin token',
        responses: { 200: { description: 'the Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } } } }),
    },
  },
};
