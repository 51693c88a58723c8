import { errorResponse, jsonResponse, secured, type ApiFragment } from './openapi.js';

/** The most rows one page of the original console's list may ask for. */
export const MAX_PAGE_LIMIT = 1000;

const COUNT = { type: 'integer', minimum: 0 };
const BAD = errorResponse('`INVALID_PARAMETER`: a malformed, repeated or out-of-range parameter');
const ENGINE_FILTER = { name: 'eng', in: 'query', description: 'only this engine (empty: all)', schema: { type: 'string', pattern: '^([a-z0-9][a-z0-9_-]{0,62})?$' } };
const STATUS_FILTER = { name: 'st', in: 'query', description: 'only these statuses, comma-separated, either case (empty: all)', schema: { type: 'string' } };
const ISO = { type: 'string', description: 'ISO 8601 UTC' };
const ISO_OR_NULL = { type: ['string', 'null'], description: 'ISO 8601 UTC, or null' };

const MONITOR_ROW = {
  type: 'object', additionalProperties: false, required: ['id', 'engine', 'filename', 'status', 'created', 'started', 'finished', 'error'],
  properties: {
    id: { type: 'integer', minimum: 1 }, engine: { type: 'string' }, filename: { type: 'string' }, status: { $ref: '#/components/schemas/JobStatus' },
    created: ISO, started: ISO_OR_NULL, finished: ISO_OR_NULL, error: { type: 'string', description: 'the failure reason, or ""' },
  },
};

const COUNTS = {
  type: 'object', additionalProperties: false, required: ['RECEIVED', 'RUNNING', 'SUCCESS', 'FAIL'],
  properties: { RECEIVED: COUNT, RUNNING: COUNT, SUCCESS: COUNT, FAIL: COUNT },
};

const POLICY = {
  type: 'object', required: ['available'],
  properties: {
    available: { type: 'boolean' }, reason: { type: 'string' }, mode: { type: ['string', 'null'] }, rules: { type: ['integer', 'null'] },
    detections: { type: 'array', items: { type: 'object' } }, violationsByRule: { type: 'object', additionalProperties: COUNT },
  },
};

const pathNumber = (name: string, min: number, max?: number): Record<string, unknown> => ({
  name, in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9]{1,15}$', description: `an integer from ${min}${max ? ` to ${max}` : ''}` },
});

/**
 * The console's API (mounted by src/console/monitor-routes.ts): the original console's calls
 * and the two reads the new console adds. Documented here with the other fragments.
 */
export const MONITOR_API: ApiFragment = {
  schemas: { MonitorRow: MONITOR_ROW },
  paths: {
    '/monitor/queues': {
      get: secured({ operationId: 'monitorQueues', summary: 'Job counts per configured engine and status (the original console)',
        responses: { 200: jsonResponse('the counts, zeros included', { type: 'object', additionalProperties: false, required: ['Queues'],
          properties: { Queues: { type: 'object', additionalProperties: COUNTS } } }) } }),
    },
    '/monitor/jobs/paginate': {
      get: secured({ operationId: 'monitorPaginate', summary: 'How many jobs match, with an id of at least min-id, and the highest such id',
        parameters: [ENGINE_FILTER, STATUS_FILTER, { name: 'min-id', in: 'query', schema: { type: 'string', pattern: '^[0-9]{1,15}$' } }],
        responses: { 200: jsonResponse('count and max_index (0 if none)', { type: 'object', additionalProperties: false, required: ['count', 'max_index'],
          properties: { count: COUNT, max_index: COUNT } }), 400: BAD } }),
    },
    '/monitor/jobs/{maxIdx}/{limit}/{page}': {
      get: secured({ operationId: 'monitorJobs', summary: 'A page of matching jobs with id <= maxIdx, newest first, offset (page-1)*limit',
        parameters: [pathNumber('maxIdx', 0), pathNumber('limit', 1, MAX_PAGE_LIMIT), pathNumber('page', 1), ENGINE_FILTER, STATUS_FILTER],
        responses: { 200: jsonResponse('the page', { type: 'object', additionalProperties: false, required: ['jobs'],
          properties: { jobs: { type: 'array', items: { $ref: '#/components/schemas/MonitorRow' } } } }), 400: BAD } }),
    },
    '/monitor/throughput': {
      get: secured({ operationId: 'monitorThroughput', summary: 'Jobs finished per engine and outcome in the last minutes',
        parameters: [{ name: 'minutes', in: 'query', schema: { type: 'string', pattern: '^[0-9]{1,2}$', description: '1 to 60, default 5' } }],
        responses: { 200: jsonResponse('the counts', { type: 'object', additionalProperties: false, required: ['minutes', 'finished', 'perMinute'],
          properties: { minutes: COUNT, perMinute: { type: 'number', minimum: 0 }, finished: { type: 'object', additionalProperties: {
            type: 'object', additionalProperties: false, required: ['success', 'fail'], properties: { success: COUNT, fail: COUNT } } } } }), 400: BAD } }),
    },
    '/monitor/policy': {
      get: secured({ operationId: 'monitorPolicy', summary: 'The enforcer\'s recent detections and violations by rule, or why they are not available (not for submit tokens)',
        responses: { 200: jsonResponse('the enforcer\'s state', POLICY) } }),
    },
  },
};
