import { expect } from 'chai';
import { JOB_CONTROL_API } from '../../../src/api/job-control-openapi.js';
import { jobControlRoutes, parseEngines } from '../../../src/api/job-control-routes.js';
import type { Engine } from '../../../src/engines/engines.js';
import { ERRORS } from '../../../src/errors.js';
import { NotFoundError } from '../../../src/errors.js';

const engine = (name: string): Engine => ({ name } as Engine);
const lookup = (name: string): Engine => {
  if (!['md5', 'yara'].includes(name)) throw new NotFoundError('UNKNOWN_ENGINE', name);
  return engine(name);
};
const code = (fn: () => unknown): string => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return (err as { code: string }).code;
  }
};

describe('api/job-control: routes and their OpenAPI fragment', () => {
  it('parses the engines of a submission: names, each once, known', () => {
    expect(parseEngines('md5,yara', lookup).map((e) => e.name)).to.deep.equal(['md5', 'yara']);
    expect(parseEngines(' yara ', lookup).map((e) => e.name)).to.deep.equal(['yara']);
    const table: [string | undefined, string][] = [
      [undefined, 'INVALID_ENGINES'], ['', 'INVALID_ENGINES'], ['md5,', 'INVALID_ENGINES'], [',md5', 'INVALID_ENGINES'],
      ['md5,md5', 'INVALID_ENGINES'], [Array.from({ length: 33 }, (_, i) => `e${i}`).join(','), 'INVALID_ENGINES'], ['md5,nosuch', 'UNKNOWN_ENGINE'],
    ];
    for (const [raw, want] of table) expect(code(() => parseEngines(raw, lookup)), String(raw)).to.equal(want);
  });

  it('the fragment describes exactly the router\'s routes (under /api/v1), with every status its errors can have', () => {
    const router = jobControlRoutes({ service: {} as never });
    const routes = router.stack.filter((l) => l.methods.length > 0)
      .map((l) => `${l.methods.filter((m) => m !== 'HEAD')[0]?.toLowerCase()} /api/v1${String(l.path).replace(/:([a-z]+)/g, '{$1}')}`).sort();
    const documented = Object.entries(JOB_CONTROL_API.paths).flatMap(([path, item]) => Object.keys(item as object).map((m) => `${m} ${path}`)).sort();
    expect(documented).to.deep.equal(routes);
    const statuses = (path: string, method: string): string[] =>
      Object.keys(JOB_CONTROL_API.paths[path]?.[method]?.responses ?? {});
    expect(statuses('/api/v1/jobs/{id}/cancel', 'post')).to.include.members(['200', '401', '403', '404', String(ERRORS.JOB_FINISHED.status)]);
    expect(statuses('/api/v1/jobs/{id}/retry', 'post')).to.include.members(['201', '401', '403', '404']);
    expect(statuses('/api/v1/submissions', 'post')).to.include.members(['201', '400', '404', '408', '409', '413', '429', '503']);
    expect(Object.keys(JOB_CONTROL_API.schemas)).to.include.members(['JobId', 'Submission']);
  });
});
