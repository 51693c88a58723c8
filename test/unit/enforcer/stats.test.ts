import { expect } from 'chai';
import { computeMetrics, cpuSample } from '../../../src/enforcer/stats.js';

describe('enforcer stats (docker stats arithmetic)', () => {
  const sample = {
    memory_stats: { usage: 60 * 2 ** 20, limit: 100 * 2 ** 20, stats: { total_inactive_file: 10 * 2 ** 20 } },
    cpu_stats: { cpu_usage: { total_usage: 3_000_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 2 },
    pids_stats: { current: 7 },
    blkio_stats: { io_service_bytes_recursive: [{ op: 'Read', value: 5 }, { op: 'Write', value: 3 }, { op: 'read', value: 1 }] },
    networks: { eth0: { rx_bytes: 10, tx_bytes: 20 } },
  };

  it('subtracts inactive file cache from memory usage and computes percent of the limit', () => {
    const m = computeMetrics(sample);
    expect(m.memoryUsage).to.equal(50 * 2 ** 20);
    expect(m.memoryPercent).to.be.closeTo(50, 1e-9);
    expect(m.pids).to.equal(7);
    expect([m.blockRead, m.blockWrite, m.netRx, m.netTx]).to.deep.equal([6, 3, 10, 20]);
  });

  it('has no CPU % from a single one-shot sample, and computes it from the previous one', () => {
    expect(computeMetrics(sample).cpuPercent).to.equal(undefined);
    const prev = { total: 2_000_000_000, system: 10_000_000_000, onlineCpus: 2 };
    expect(computeMetrics(sample, prev).cpuPercent).to.be.closeTo(20, 1e-9);
    const withPre = { ...sample, precpu_stats: { cpu_usage: { total_usage: 2_500_000_000 }, system_cpu_usage: 15_000_000_000, online_cpus: 2 } };
    expect(computeMetrics(withPre, prev).cpuPercent).to.be.closeTo(20, 1e-9);
    expect(cpuSample(undefined)).to.equal(undefined);
  });
});
