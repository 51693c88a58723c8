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
} as const;
