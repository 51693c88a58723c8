import { createHash } from 'node:crypto';
import { createApiApp, type ApiDeps } from '../../src/enforcer/api.js';
import type { EnforcerConfig } from '../../src/enforcer/config.js';
import { DetectionLog, type Detection } from '../../src/enforcer/detections.js';
import { serve } from './raw-http.js';

/** A detection of a job container breaking `rule` (fields as the enforcer records them). */
export function detection(name: string, rule: string, message: string): Detection {
  return {
    time: new Date().toISOString(), source: 'periodic', containerId: createHash('sha256').update(name).digest('hex'), name, image: 'menagerie/md5:latest', labels: {},
    violations: [{ rule, message, action: { type: 'kill' }, samples: 1 }] as unknown as Detection['violations'], mode: 'kill', outcome: 'killed',
  };
}

/**
 * The enforcer's real read-only API app (src/enforcer/api.ts) over a real detection log, on a
 * loopback port; only the parts of its configuration and judge the API reads are filled in.
 */
export async function serveEnforcerApi(detections: Detection[], token: string): Promise<{ url: string; close: () => Promise<void> }> {
  const log = new DetectionLog(100);
  log.beginScan();
  for (const d of detections) log.add(d);
  log.endScan();
  const rules = { file: 'rules.json', hash: 'h', rules: [{ name: 'no-privileged', usesMetrics: false, source: {} }, { name: 'memory-limit', usesMetrics: false, source: {} }] };
  const config = { mode: 'kill', stopOnFirstViolation: false, events: true, stats: {}, actionTimeoutSeconds: 10, triggers: { log: true, webhooks: [] } } as unknown as EnforcerConfig;
  const deps = { detections: log, judge: { currentRules: () => rules }, config, token, log: () => undefined } as unknown as ApiDeps;
  return serve(createApiApp(deps).callback());
}
