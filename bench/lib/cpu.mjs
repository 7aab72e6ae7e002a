// CPU time by process while a run goes: which process spends the CPU a path costs. On a machine whose cores are
// all busy, every microsecond one process spends is one the others cannot, so this explains a throughput ratio
// where a profile of one process cannot.
//
// Linux only: it reads /proc/PID/stat (utime + stime) of every process every 100 ms and sums the growth by class.
// A process that exits between two readings loses at most its last 100 ms; one that starts during the run counts
// from zero. The benchmark's own process is read with process.cpuUsage(). Elsewhere the meter reports nothing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';
import { ROLE, TARGET_DB } from './names.mjs';
import { fmt } from './rows.mjs';
import { median } from './util.mjs';

const PERIOD_MS = 100;
const TICKS = 100; // USER_HZ: clock ticks per second in /proc (100 on every Linux this runs on)

export const CPU_CLASSES = ['gateway', 'agent', 'reference relays', 'pgbouncer', 'postgres: target', 'postgres: gateway state', 'postgres: other', 'client', 'benchmark process'];

export const cpuMeterAvailable = existsSync('/proc/self/stat');

/**
 * The machine's CPU time so far, from the first line of /proc/stat (seconds, all cores): `steal` is time the
 * hypervisor gave this VM's virtual CPUs to someone else, `total` all of it (steal included). Null off Linux.
 */
export function readHostCpu() {
  try {
    const f = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { steal: (f[7] ?? 0) / TICKS, total: total / TICKS };
  } catch {
    return null;
  }
}

/** The share of the machine's CPU time the host took between two readHostCpu() readings, or undefined. */
export function stealShare(before, after) {
  if (!before || !after || after.total <= before.total) return undefined;
  return (after.steal - before.steal) / (after.total - before.total);
}

/** utime + stime in seconds, and the process name (comm), of one pid; null when it is gone. */
function readStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const close = s.lastIndexOf(')');
    const f = s.slice(close + 2).split(' ');
    return { comm: s.slice(s.indexOf('(') + 1, close), cpu: (Number(f[11]) + Number(f[12])) / TICKS, start: f[19] };
  } catch {
    return null;
  }
}

function readCmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** The class of a process, or null for one that has nothing to do with the benchmark. */
function classify(stack, pid, comm, cmd) {
  if (pid === stack.gatewayPid) return 'gateway';
  if (pid === stack.agentPid) return 'agent';
  if (comm === 'postgres') {
    // A backend's title: "postgres: USER DATABASE HOST(PORT) STATE".
    if (cmd.includes(' hoop_state ')) return 'postgres: gateway state';
    if (cmd.startsWith(`postgres: ${ROLE} ${TARGET_DB} `)) return 'postgres: target';
    return 'postgres: other';
  }
  if (comm === 'pgbench' || comm === 'psql') return 'client';
  if (comm === 'pgbouncer') return 'pgbouncer';
  if (cmd.includes('reference-relay')) return 'reference relays';
  return null;
}

/**
 * Starts metering. `stop()` returns { wall_s, seconds: { class: CPU seconds } }, or null where /proc is missing.
 */
export function startCpuMeter(stack) {
  if (!cpuMeterAvailable) return { stop: () => null };
  const seen = new Map(); // pid → { key, cls, last }
  const ignored = new Set();
  const totals = Object.fromEntries(CPU_CLASSES.map((c) => [c, 0]));
  const sample = (first) => {
    for (const name of readdirSync('/proc')) {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(name);
      if (pid === process.pid || ignored.has(pid)) continue;
      const st = readStat(pid);
      if (!st) continue;
      let p = seen.get(pid);
      if (!p || p.key !== st.start) {
        const cls = classify(stack, pid, st.comm, readCmdline(pid));
        if (cls === null) {
          // Not ours (a pid is not reused within a run): not read again, so the meter itself costs less.
          ignored.add(pid);
          continue;
        }
        // Already running when metering began: count from now. Started since: count all of it.
        p = { key: st.start, cls, last: first ? st.cpu : 0 };
        seen.set(pid, p);
      }
      totals[p.cls] += st.cpu - p.last;
      p.last = st.cpu;
    }
  };
  const started = performance.now();
  const own = process.cpuUsage();
  const host = readHostCpu();
  sample(true);
  const timer = setInterval(() => sample(false), PERIOD_MS);
  return {
    stop() {
      clearInterval(timer);
      sample(false);
      const u = process.cpuUsage(own);
      totals['benchmark process'] = (u.user + u.system) / 1e6;
      return { wall_s: (performance.now() - started) / 1000, seconds: totals, steal: stealShare(host, readHostCpu()) };
    },
  };
}

/** CPU microseconds per unit of work (a transaction, a row) by class, and the cores busy on average. */
export function perUnit(meter, units) {
  if (!meter || !units) return null;
  const us = {};
  let total = 0;
  for (const [cls, s] of Object.entries(meter.seconds)) {
    if (s <= 0) continue;
    us[cls] = (s * 1e6) / units;
    total += s;
  }
  return { us, total_us: (total * 1e6) / units, cores: total / meter.wall_s, steal: meter.steal };
}

/**
 * A Markdown table: one row per path, a column per class that spent anything, median over rounds of
 * µs per unit. `byPath`: { path: [perUnit result per round] }.
 */
export function cpuTable(title, unit, byPath) {
  const paths = Object.keys(byPath).filter((p) => byPath[p].some(Boolean));
  if (paths.length === 0) return [];
  // Classes that spent at least 1 % of some path's total.
  const classes = CPU_CLASSES.filter((c) => paths.some((p) => byPath[p].some((r) => r && (r.us[c] ?? 0) >= 0.01 * r.total_us)));
  const us = (x) => fmt(x, '', Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  const stealOf = (rounds) => rounds.map((r) => (r.steal === undefined ? '—' : `${(r.steal * 100).toFixed(1)}`)).join(', ');
  const lines = [
    `${title} (CPU µs per ${unit}, median of rounds, read from /proc; "cores" is the average number of cores busy;`
      + ' "host steal" is the share of the machine\'s CPU time the hypervisor gave to other guests, per round, in %)', '',
    `| path | ${classes.join(' | ')} | total | cores | host steal |`,
    `|---|${classes.map(() => '---:').join('|')}|---:|---:|---|`,
  ];
  for (const p of paths) {
    const rounds = byPath[p].filter(Boolean);
    const cols = classes.map((c) => us(median(rounds.map((r) => r.us[c] ?? 0))));
    lines.push(`| ${p} | ${cols.join(' | ')} | ${us(median(rounds.map((r) => r.total_us)))} | ${fmt(median(rounds.map((r) => r.cores)), '', 2)} | ${stealOf(rounds)} |`);
  }
  lines.push('');
  return lines;
}
