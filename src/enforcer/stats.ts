/** Runtime metrics of one container, computed the way `docker stats` computes them. */
export interface ContainerMetrics {
  readonly memoryUsage: number;
  readonly memoryLimit: number;
  readonly memoryPercent: number;
  /** Absent until two samples exist (one-shot stats carry no previous CPU sample). */
  readonly cpuPercent?: number;
  readonly pids?: number;
  readonly blockRead: number;
  readonly blockWrite: number;
  readonly netRx: number;
  readonly netTx: number;
}

/** The CPU counters of one sample, kept to compute CPU % from the next one. */
export interface CpuSample {
  readonly total: number;
  readonly system: number;
  readonly onlineCpus: number;
}

type Num = number | undefined;
interface CpuStats {
  cpu_usage?: { total_usage?: Num; percpu_usage?: number[] | null };
  system_cpu_usage?: Num;
  online_cpus?: Num;
}
/** The subset of Docker's stats JSON used here. */
export interface RawStats {
  memory_stats?: { usage?: Num; limit?: Num; stats?: Record<string, number> };
  cpu_stats?: CpuStats;
  precpu_stats?: CpuStats;
  pids_stats?: { current?: Num };
  blkio_stats?: { io_service_bytes_recursive?: Array<{ op: string; value: number }> | null };
  networks?: Record<string, { rx_bytes?: Num; tx_bytes?: Num }>;
}

/** Reads the CPU counters of a stats sample, or undefined when it has none. */
export function cpuSample(s: CpuStats | undefined): CpuSample | undefined {
  const total = s?.cpu_usage?.total_usage;
  const system = s?.system_cpu_usage;
  if (!total || !system) return undefined;
  return { total, system, onlineCpus: s?.online_cpus || s?.cpu_usage?.percpu_usage?.length || 1 };
}

/** CPU % between two samples, as `docker stats` computes it (100 % = one CPU busy). */
export function cpuPercent(prev: CpuSample, cur: CpuSample): number | undefined {
  const cpuDelta = cur.total - prev.total;
  const sysDelta = cur.system - prev.system;
  if (sysDelta <= 0 || cpuDelta < 0) return undefined;
  return (cpuDelta / sysDelta) * cur.onlineCpus * 100;
}

/**
 * Computes metrics from one stats sample; `previous` is the CPU sample from the last scan,
 * used when the sample has no precpu_stats (one-shot).
 */
export function computeMetrics(raw: RawStats, previous?: CpuSample): ContainerMetrics {
  const mem = raw.memory_stats ?? {};
  const usage = mem.usage ?? 0;
  const inactive = mem.stats?.total_inactive_file ?? mem.stats?.inactive_file ?? 0;
  const used = inactive < usage ? usage - inactive : usage;
  const limit = mem.limit ?? 0;
  const cur = cpuSample(raw.cpu_stats);
  const pre = cpuSample(raw.precpu_stats) ?? previous;
  const cpu = cur && pre ? cpuPercent(pre, cur) : undefined;
  let blockRead = 0;
  let blockWrite = 0;
  for (const e of raw.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = e.op.toLowerCase();
    if (op === 'read') blockRead += e.value;
    if (op === 'write') blockWrite += e.value;
  }
  let netRx = 0;
  let netTx = 0;
  for (const n of Object.values(raw.networks ?? {})) {
    netRx += n.rx_bytes ?? 0;
    netTx += n.tx_bytes ?? 0;
  }
  return {
    memoryUsage: used,
    memoryLimit: limit,
    memoryPercent: limit > 0 ? (used / limit) * 100 : 0,
    ...(cpu === undefined ? {} : { cpuPercent: cpu }),
    ...(raw.pids_stats?.current === undefined ? {} : { pids: raw.pids_stats.current }),
    blockRead,
    blockWrite,
    netRx,
    netTx,
  };
}
