/** The schemas of API v1's job record and of the original API's job view; the builders are in src/jobs/record.ts. */

const NULLABLE_STRING = { type: ['string', 'null'] } as const;
const TIME = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' } as const;

/** The fields `GET /jobs/<id>` of the original API answers. */
export const PUBLIC_JOB_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['jobid', 'engine', 'filename', 'size', 'sha256', 'status', 'reason', 'summary', 'link', 'log', 'attempts',
    'created', 'started', 'finished', 'containment'],
  properties: {
    jobid: { type: 'string', pattern: '^[1-9][0-9]{0,17}$' },
    engine: { type: 'string' },
    filename: { type: 'string', description: 'the upload\'s file name as the client sent it' },
    size: { type: 'integer', minimum: 0 },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    status: { $ref: '#/components/schemas/JobStatus' },
    reason: { type: 'string', description: 'why the job failed; "" if it did not' },
    summary: { type: 'string', description: 'the first line of the result once finished, else ""' },
    link: { type: 'string', description: '"/link/<id>" once finished, else ""' },
    log: { type: 'string' },
    attempts: { type: 'integer', minimum: 0 },
    created: TIME,
    started: { oneOf: [TIME, { type: 'null' }] },
    finished: { oneOf: [TIME, { type: 'null' }] },
    containment: { description: 'the controls in force for the last run, read back from Docker; null before a run' },
  },
} as const;

/** The API v1 job record. */
export const JOB_RECORD_SCHEMA = {
  ...PUBLIC_JOB_SCHEMA,
  required: [...PUBLIC_JOB_SCHEMA.required, 'owner', 'cached', 'retryOf', 'imageDigest'],
  properties: {
    ...PUBLIC_JOB_SCHEMA.properties,
    owner: { ...NULLABLE_STRING, description: 'the submitting token\'s owner; null for jobs submitted to the open API' },
    cached: { type: 'boolean', description: 'answered from an earlier identical analysis' },
    retryOf: { oneOf: [{ type: 'string', pattern: '^[1-9][0-9]{0,17}$' }, { type: 'null' }] },
    imageDigest: { ...NULLABLE_STRING, description: 'the engine image digest the job ran with' },
  },
} as const;
