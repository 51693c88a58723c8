/**
 * The OpenAPI 3.1 fragment of the job-control routes (src/api/job-control-routes.ts), merged
 * into /api/v1/openapi.json by the read side's document builder: every path, status code and
 * schema the routes answer with.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ 'application/json': { schema } });
const error = (description: string) => ({ description, content: json(ref('Error')) });

const jobIdParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[1-9][0-9]{0,17}$' } };
const callbackParam = {
  name: 'callback', in: 'query', required: false,
  description: 'URL that receives the final job record (signed POST); must start with one of webhooks.allowedPrefixes',
  schema: { type: 'string', maxLength: 2048 },
};
const forceParam = { name: 'force', in: 'query', required: false, description: 'bypass the result cache', schema: { enum: ['0', '1', 'true', 'false'] } };
const keyHeader = {
  name: 'Idempotency-Key', in: 'header', required: false,
  description: 'the same key from the same caller within 24 hours returns the same jobs',
  schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
};
const auth = { 401: error('no token, or a wrong one'), 403: error('the token\'s role may not do this') };
const busy = { 503: error('database or broker unavailable, or too many uploads at once') };

const uploadBody = {
  required: true,
  content: {
    'multipart/form-data': {
      schema: { type: 'object', required: ['upload'], properties: { upload: { type: 'string', format: 'binary' } } },
    },
  },
};

export const jobControlPaths: Record<string, unknown> = {
  '/api/v1/jobs/{id}/cancel': {
    post: {
      summary: 'Cancel a job: a queued job never runs, a running one\'s container is killed; it ends Fail, reason "cancelled"',
      operationId: 'cancelJob',
      security: [{ bearer: [] }],
      parameters: [jobIdParam],
      responses: {
        200: { description: 'the cancelled job', content: json(ref('JobRecord')) },
        400: error('malformed job id'),
        ...auth,
        404: error('no such job (or another owner\'s)'),
        409: error('the job has already finished (JOB_FINISHED)'),
        500: error('a bug'),
        ...busy,
      },
    },
  },
  '/api/v1/jobs/{id}/retry': {
    post: {
      summary: 'Run a job again: a new job with the same input and engine (the old one stays)',
      operationId: 'retryJob',
      security: [{ bearer: [] }],
      parameters: [jobIdParam, callbackParam],
      responses: {
        201: { description: 'the new job', content: json(ref('JobId')) },
        400: error('malformed job id or callback'),
        ...auth,
        404: error('no such job, its input is no longer stored (INPUT_MISSING), or its engine is gone'),
        429: error('too many jobs from this token'),
        500: error('a bug'),
        ...busy,
      },
    },
  },
  '/api/v1/submissions': {
    post: {
      summary: 'One file to several engines: one upload, one job per engine, the input stored once',
      operationId: 'submit',
      security: [{ bearer: [] }],
      parameters: [
        { name: 'engines', in: 'query', required: true, description: 'engine names, comma-separated', schema: { type: 'string' } },
        forceParam, callbackParam, keyHeader,
      ],
      requestBody: uploadBody,
      responses: {
        201: { description: 'the jobs, one per engine in the order asked', content: json(ref('Submission')) },
        400: error('bad engines list, parameter, callback, key, or multipart body'),
        ...auth,
        404: error('an unknown engine (before the body is read)'),
        408: error('the body came too slowly'),
        409: error('the Idempotency-Key was used for another request, or one with it is still running'),
        413: error('larger than the smallest size limit of the engines'),
        429: error('too many uploads from this token'),
        500: error('a bug'),
        ...busy,
      },
    },
  },
};

export const jobControlSchemas: Record<string, unknown> = {
  JobId: { type: 'object', required: ['jobid'], additionalProperties: false, properties: { jobid: { type: 'string' } } },
  Submission: {
    type: 'object', required: ['jobs'], additionalProperties: false,
    properties: {
      jobs: {
        type: 'array', minItems: 1,
        items: {
          type: 'object', required: ['engine', 'jobid', 'cached'], additionalProperties: false,
          properties: { engine: { type: 'string' }, jobid: { type: 'string' }, cached: { type: 'boolean' } },
        },
      },
    },
  },
};

/** The fragment: `{ paths, schemas }` (JobRecord and Error come from the read side's document). */
export const jobControlOpenApi = { paths: jobControlPaths, schemas: jobControlSchemas };
