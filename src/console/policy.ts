/** What the console's policy page shows: the enforcer's recent detections, or why not. */
export type PolicyView =
  | { available: true; mode: string | null; rules: number | null; detections: Detection[]; violationsByRule: Record<string, number> }
  | { available: false; reason: string };

/** One detection as the enforcer's API reports it (the fields the page reads). */
export interface Detection {
  container: string;
  name: string;
  time: string;
  count: number;
  mode: string;
  outcome: string;
  rules: { rule: string; message: string; action: string }[];
}

/** Reads the enforcer's state for the console. */
export interface PolicySource {
  read(): Promise<PolicyView>;
}

const TIMEOUT_MS = 3000;

/**
 * Reads the enforcer's read-only API (GET /recent and /config, src/enforcer/api.ts) when the
 * frontend is told where it is (`console.enforcerUrl`); otherwise, or when it does not
 * answer, the page is told why. Its answers are data to show, never markup.
 */
export function enforcerPolicy(url: string | undefined, token: string | undefined): PolicySource {
  return {
    async read(): Promise<PolicyView> {
      if (url === undefined) {
        return { available: false, reason: 'The frontend is not configured to read the enforcer\'s API (console.enforcerUrl), or the enforcer does not run.' };
      }
      try {
        const [recent, config] = await Promise.all([get(url, '/recent?show_all_violated_rules=1', token), get(url, '/config', token)]);
        return summarise(recent, config);
      } catch (err) {
        return { available: false, reason: `The enforcer's API at ${new URL(url).host} did not answer (${(err as Error).message}).` };
      }
    },
  };
}

async function get(base: string, path: string, token: string | undefined): Promise<unknown> {
  const res = await fetch(new URL(path, base), {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

type Raw = Record<string, unknown>;

function summarise(recent: unknown, config: unknown): PolicyView {
  const list = Array.isArray((recent as Raw | null)?.detections) ? ((recent as Raw).detections as Raw[]) : [];
  const detections = list.slice(0, 200).map(detection);
  const violationsByRule: Record<string, number> = {};
  for (const d of detections) for (const r of d.rules) violationsByRule[r.rule] = (violationsByRule[r.rule] ?? 0) + d.count;
  const c = (config ?? {}) as Raw;
  const rules = (c.rules ?? {}) as Raw;
  return {
    available: true, mode: typeof c.mode === 'string' ? c.mode : null,
    rules: typeof rules.count === 'number' ? rules.count : null, detections, violationsByRule,
  };
}

function detection(d: Raw): Detection {
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  const all = Array.isArray(d.violated_rules) ? (d.violated_rules as Raw[]) : [];
  const rules = all.length
    ? all.map((r) => ({ rule: text(r.rule), message: text(r.message), action: text(r.action) }))
    : [{ rule: text(d.violated_rule), message: text(d.message), action: '' }];
  return {
    container: text(d.id), name: text(d.name), time: text(d.time), count: typeof d.count === 'number' ? d.count : 1,
    mode: text(d.mode), outcome: text(d.outcome), rules,
  };
}
