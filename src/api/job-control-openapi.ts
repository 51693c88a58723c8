import { errorResponse, JOB_ID_ANSWERS, JOB_ID_PARAMETER, jsonResponse, secured, type ApiFragment } from './openapi.js';

/**
 * The OpenAPI 3.1 fragment of the job-control routes (src/api/job-control-routes.ts): every
 * path, status code and schema they answer with. The upload options are shared with the
 * original `/{engine}/upload` (src/api/original-api.ts).
 */

const JOBID = { type: 'string', pattern: '^[1-9][0-9]{0,17}$' };
const RECORD = { $ref: '#/components/schemas/JobRecord' };

/** `callback=`: where the final job record is POSTed. */
export const CALLBACK_PARAMETER = {
  name: 'callback', in: 'query', required: false, schema: { type: 'string', maxLength: 2048 },
  description: 'a URL under one of `webhooks.allowedPrefixes` that receives the final job record, signed (X-Menagerie-Signature)',
};

/** The query and header options of every upload (`/{engine}/upload` and submissions). */
export const UPLOAD_OPTIONS = [
  { name: 'force', in: 'query', required: false, schema: { enum: ['0', '1', 'true', 'false'] }, description: 'run even if the result cache has an answer' },
  CALLBACK_PARAMETER,
  {
    name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
    description: 'the same key from the same token within 24 hours returns the same job(s) and creates none',
  },
];

/** The answers the upload options add. */
export const UPLOAD_OPTION_ANSWERS = {
  409: errorResponse('`IDEMPOTENCY_KEY_REUSED` (the key was used for other engines or another file), `IDEMPOTENCY_KEY_IN_USE` (a request with it is still running)'),
};

/** The 400 codes of an upload with options. */
export const UPLOAD_BAD_REQUEST = '`MISSING_UPLOAD`, `INVALID_UPLOAD`, `UPLOAD_ABORTED`, `BAD_REQUEST`, `INVALID_PARAMETER`, `INVALID_CALLBACK`, `INVALID_IDEMPOTENCY_KEY`';

export const JOB_CONTROL_API: ApiFragment = {
  schemas: {
    JobId: { type: 'object', additionalProperties: false, required: ['jobid'], properties: { jobid: JOBID } },
    Submission: {
      type: 'object', additionalProperties: false, required: ['jobs'],
      properties: {
        jobs: {
          type: 'array', minItems: 1,
          items: {
            type: 'object', additionalProperties: false, required: ['engine', 'jobid', 'cached'],
            properties: { engine: { type: 'string' }, jobid: JOBID, cached: { type: 'boolean', description: 'answered from the result cache' } },
          },
        },
      },
    },
  },
  paths: {
    '/api/v1/jobs/{id}/cancel': {
      post: secured({
        operationId: 'cancelJob',
        summary: 'Cancel a job: a queued job never runs, a running one\'s container is killed; it ends Fail with reason "cancelled"',
        parameters: [JOB_ID_PARAMETER],
        responses: {
          200: jsonResponse('the cancelled job', RECORD),
          ...JOB_ID_ANSWERS,
          409: errorResponse('`JOB_FINISHED`: the job has already ended'),
        },
      }),
    },
    '/api/v1/jobs/{id}/retry': {
      post: secured({
        operationId: 'retryJob',
        summary: 'Run a job again: a new job with the same input and engine, recorded as its retry (the old one stays)',
        parameters: [JOB_ID_PARAMETER, CALLBACK_PARAMETER],
        responses: {
          201: jsonResponse('the new job', { $ref: '#/components/schemas/JobId' }),
          400: errorResponse('`INVALID_JOB_ID`, `INVALID_CALLBACK`, `INVALID_PARAMETER`'),
          404: errorResponse('`JOB_NOT_FOUND`, `INPUT_MISSING` (removed by retention), `UNKNOWN_ENGINE` (no longer configured)'),
          429: errorResponse('`RATE_LIMITED` (`Retry-After`)'),
        },
      }),
    },
    '/api/v1/submissions': {
      post: secured({
        operationId: 'submit',
        summary: 'One file to several engines: one upload, one job per engine, the input stored once',
        parameters: [
          { name: 'engines', in: 'query', required: true, schema: { type: 'string', minLength: 1 }, description: 'engine names, comma-separated' },
          ...UPLOAD_OPTIONS,
        ],
        requestBody: {
          required: true,
          content: { 'multipart/form-data': { schema: {
            type: 'object', required: ['upload'], properties: { upload: { type: 'string', contentMediaType: 'application/octet-stream' } },
          } } },
        },
        responses: {
          201: jsonResponse('the jobs, one per engine in the order named', { $ref: '#/components/schemas/Submission' }),
          400: errorResponse(`${UPLOAD_BAD_REQUEST}, \`INVALID_ENGINES\``),
          404: errorResponse('`UNKNOWN_ENGINE` (answered before the body is read)'),
          408: errorResponse('`UPLOAD_TIMEOUT`, `REQUEST_TIMEOUT`'),
          ...UPLOAD_OPTION_ANSWERS,
          413: errorResponse('`UPLOAD_TOO_LARGE` (larger than the smallest sizelimit of the engines), `BODY_TOO_LARGE`'),
          429: errorResponse('`RATE_LIMITED` (`Retry-After`)'),
          503: errorResponse('`TOO_MANY_UPLOADS`, `DATABASE_UNAVAILABLE`, `OVERLOADED`, `BROKER_UNAVAILABLE` (`Retry-After`)'),
        },
      }),
    },
  },
};
