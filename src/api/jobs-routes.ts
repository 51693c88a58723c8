import Router from '@koa/router';
import { authorize } from '../http/auth.js';
import { readJob } from '../http/long-poll.js';
import { jobId, sendLink, sendLog } from '../http/public-routes.js';
import type { JobService } from '../jobs/service.js';
import { jobRecord } from '../jobs/record.js';
import { JOB_RECORD_SCHEMA } from './job-record.js';
import { DEFAULT_LIMIT, encodeCursor, MAX_LIMIT, parseListQuery } from './list-params.js';
import { errorResponse, JOB_ID_ANSWERS, JOB_ID_PARAMETER, jsonResponse, secured, WAIT_ANSWERS, WAIT_PARAMETER, type ApiFragment } from './openapi.js';

/** GET /jobs, /jobs/:id, /jobs/:id/log, /jobs/:id/result (under /api/v1). */
export function jobsRoutes(deps: { service: JobService }): Router {
  const { service } = deps;
  const router = new Router();
  router.get('/jobs', async (ctx) => {
    const scope = authorize(ctx, 'read');
    const query = parseListQuery(ctx.query, scope.owner);
    // One row more than asked tells whether another page follows.
    const jobs = await service.list({ ...query, limit: query.limit + 1 }, scope);
    const page = jobs.slice(0, query.limit);
    const last = page[page.length - 1];
    ctx.body = {
      jobs: page.map(jobRecord),
      next: jobs.length > query.limit && last ? encodeCursor(last.id, query, scope.owner) : null,
    };
  });
  router.get('/jobs/:id', async (ctx) => {
    ctx.body = jobRecord(await readJob(ctx, service, jobId(ctx), authorize(ctx, 'read')));
  });
  router.get('/jobs/:id/log', async (ctx) => {
    await sendLog(ctx, service, jobId(ctx), authorize(ctx, 'read'));
  });
  router.get('/jobs/:id/result', async (ctx) => {
    await sendLink(ctx, service, jobId(ctx), authorize(ctx, 'read'));
  });
  return router;
}

const param = (name: string, description: string, schema: Record<string, unknown>) => ({ name, in: 'query', required: false, description, schema });

const ISO = '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2}))?$';

const LIST_PARAMS = [
  param('engine', 'only this engine\'s jobs', { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' }),
  param('status', 'a comma list of statuses (Received,Running,Success,Fail)', { type: 'string', pattern: '^(Received|Running|Success|Fail)(,(Received|Running|Success|Fail))*$' }),
  param('filename', 'the upload\'s file name, matched exactly (no wildcards, case-sensitive)', { type: 'string', minLength: 1, maxLength: 255 }),
  param('sha256', 'the input\'s SHA-256 (64 hex digits)', { type: 'string', pattern: '^[0-9a-fA-F]{64}$' }),
  param('created_after', 'created at or after this ISO 8601 date or time (a time needs a zone)', { type: 'string', pattern: ISO }),
  param('created_before', 'created before this ISO 8601 date or time (exclusive)', { type: 'string', pattern: ISO }),
  param('limit', `jobs per page, 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT})`, { type: 'string', pattern: '^[0-9]{1,4}$' }),
  param('cursor', 'the `next` of the previous page; valid only with the same filters', { type: 'string', pattern: '^[A-Za-z0-9_-]{1,200}$' }),
];

/** The job routes' part of the OpenAPI document. */
export const JOBS_API: ApiFragment = {
  schemas: { JobRecord: JOB_RECORD_SCHEMA },
  paths: {
    '/api/v1/jobs': {
      get: secured({ operationId: 'listJobs', summary: 'Jobs, newest first, filtered; a submit token sees its owner\'s only',
        description: 'Keyset pagination: pass `next` as `cursor` for the following page. Pages stay stable while new jobs arrive.',
        parameters: LIST_PARAMS,
        responses: {
          200: jsonResponse('a page of jobs', { type: 'object', additionalProperties: false, required: ['jobs', 'next'], properties: {
            jobs: { type: 'array', maxItems: MAX_LIMIT, items: { $ref: '#/components/schemas/JobRecord' } },
            next: { type: ['string', 'null'], description: 'the cursor of the next page; null on the last page' } } }),
          400: errorResponse('`INVALID_PARAMETER` (unknown, repeated or malformed parameter), `INVALID_CURSOR` (malformed, or made for other filters)'),
        } }),
    },
    '/api/v1/jobs/{id}': {
      get: secured({ operationId: 'getJob', summary: 'A job\'s full record; with `wait`, once it has ended', parameters: [JOB_ID_PARAMETER, WAIT_PARAMETER],
        responses: { 200: jsonResponse('the job', { $ref: '#/components/schemas/JobRecord' }), ...JOB_ID_ANSWERS, ...WAIT_ANSWERS } }),
    },
    '/api/v1/jobs/{id}/log': {
      get: secured({ operationId: 'getJobLog', summary: 'The engine\'s output (as /jobs/{id}/log)', parameters: [JOB_ID_PARAMETER],
        responses: { 200: { description: 'the output', content: { 'text/plain': { schema: { type: 'string' } } } }, ...JOB_ID_ANSWERS } }),
    },
    '/api/v1/jobs/{id}/result': {
      get: secured({ operationId: 'getJobResult', summary: 'The result or error text of a finished job (as /link/{id})', parameters: [JOB_ID_PARAMETER],
        responses: {
          200: { description: 'the bytes, as an attachment', content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
          ...JOB_ID_ANSWERS,
          404: errorResponse('`JOB_NOT_FOUND`, `RESULT_MISSING` (removed by retention)'),
          409: errorResponse('`JOB_NOT_FINISHED`'),
        } }),
    },
  },
};
