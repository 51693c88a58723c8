/**
 * Label keys menage puts on every container and volume it creates. The enforcer's rules and
 * config, the orphan sweeper and the tests find Menagerie's containers by these.
 */
export const LABELS = {
  managed: 'org.menagerie.managed',
  deployment: 'org.menagerie.deployment',
  job: 'org.menagerie.job',
  engine: 'org.menagerie.engine',
  attempt: 'org.menagerie.attempt',
  node: 'org.menagerie.node',
  deadline: 'org.menagerie.deadline',
  role: 'org.menagerie.role',
  /**
   * On a warm-pool container: a token unique to its create call, so a create whose answer was
   * lost (the daemon went away mid-call) can be found and removed (src/menage/warm-pool.ts).
   */
  poolToken: 'org.menagerie.pool-token',
  /**
   * On a named volume engines mount read-only (engines.json `volumes`, e.g. yara's rules): its
   * value is the deployment. Not `deployment`: the orphan sweeper removes dangling volumes of that label.
   */
  engineData: 'org.menagerie.engine-data',
} as const;

/**
 * The deployment label of the conformance kit's containers when a reload of deployment
 * `deployment` runs it: the live deployment's orphan sweeper never takes them for jobs, and
 * the Docker API proxy lets them through under the same policy as jobs.
 */
export function kitDeployment(deployment: string): string {
  return `${deployment}-kit`;
}
