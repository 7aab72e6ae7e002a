// Markdown tables for stdout (and docs/performance.md), JSON for bench/results/latest.json.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { fmt } from './rows.mjs';
import { loadAverage } from './util.mjs';

export function machineInfo(root) {
  const git = (args) => {
    try {
      return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return undefined;
    }
  };
  const c = cpus();
  return {
    cores: c.length,
    cpu_model: c[0]?.model ?? 'unknown',
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    git_commit: git(['rev-parse', '--short', 'HEAD']) ?? 'unknown',
    git_dirty: (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '',
    load_average_start: loadAverage(),
  };
}

export function machineLine(m) {
  return `Machine: ${m.cores} cores (${m.cpu_model}), ${m.memory_gib} GiB, Node ${m.node}, ${m.platform}, commit ${m.git_commit}${m.git_dirty ? ' (with uncommitted changes)' : ''}; `
    + `load average ${m.load_average_start.join(' / ')} at start, ${m.load_average_end?.join(' / ') ?? '?'} at end.`;
}

const verdict = (p) => (p === null || p === undefined ? '' : p ? 'pass' : '**miss**');

/**
 * Host steal over a scenario above which its figures say more about the host than about hoop: full runs on a
 * quiet host read 0-6 %, and a run at 67-72 % once read a direct COPY at a hundredth of its usual speed.
 */
const DISTURBED_STEAL = 0.1;

const disturbed = (s) => s.host_steal !== undefined && s.host_steal >= DISTURBED_STEAL;

const hostWarning = (s) => `**The host took ${(s.host_steal * 100).toFixed(0)} % of the machine's CPU during this scenario: its figures`
  + ` and verdicts say more about the host than about hoop. Run it again (\`--only ${s.name}\`).**`;

/**
 * A ratio as it was recorded (rounded to 3 decimals): with 2 decimals when that is exact, else 3, so a median of
 * 0.598 never reads as 0.60 beside a missed "≥ 0.60" target.
 */
const ratioText = (x) => fmt(x, '', x < 0.1 || Math.abs(Math.round(x * 100) - x * 100) > 1e-6 ? 3 : 2);

export function scenarioMarkdown(s) {
  const out = [`### ${s.title}`, ''];
  if (s.error) {
    out.push(`Failed: ${s.error}`, '');
    if (disturbed(s)) out.push(hostWarning(s), '');
    return out.join('\n');
  }
  const hasDirect = s.rows.some((r) => r.direct !== null);
  if (hasDirect) {
    out.push('| measure | direct | hoop | ratio per round | median ratio | target | result |', '|---|---:|---:|---|---:|---|---|');
    for (const r of s.rows) {
      const hoop = fmt(r.hoop, r.unit, r.digits) + (r.delta !== undefined ? ` (${r.delta >= 0 ? '+' : ''}${fmt(r.delta, '', 2)})` : '');
      out.push(`| ${r.measure} | ${fmt(r.direct, r.unit, r.digits)} | ${hoop} | ${r.ratios.map(ratioText).join(', ')} | ${ratioText(r.medianRatio)} | ${r.target} | ${verdict(r.pass)} |`);
    }
  } else {
    out.push('| measure | value (median of rounds) | per round | target | result |', '|---|---:|---|---|---|');
    for (const r of s.rows) {
      const per = r.values.length > 1 ? r.values.map((x) => fmt(x, '', r.digits)).join(', ') : '';
      out.push(`| ${r.measure} | ${fmt(r.hoop, r.unit, r.digits)} | ${per} | ${r.target} | ${verdict(r.pass)} |`);
    }
  }
  if (s.extra?.length) out.push('', ...s.extra);
  if (s.load1 !== undefined) {
    const steal = s.host_steal === undefined ? '' : ` Host steal (CPU time the hypervisor gave to other guests): ${(s.host_steal * 100).toFixed(1)} %.`;
    out.push('', `Load average (1 min) during this scenario: ${s.load1.join(' → ')}.${steal}`);
  }
  if (disturbed(s)) out.push('', hostWarning(s));
  out.push('');
  return out.join('\n');
}

export function reportMarkdown(result) {
  const lines = [
    `## hoop benchmark (${result.mode}${result.rounds ? `, ${result.rounds} rounds` : ''})`, '',
    machineLine(result.machine), '',
    ...(result.gateway_node_flags?.length
      ? [`**The gateway ran under the Node.js flags \`${result.gateway_node_flags.join(' ')}\`, not as shipped.**`, '']
      : []),
    'Ratios are hoop / direct measured in the same round (paths interleaved, order rotated per round); the verdict uses the median ratio.', '',
  ];
  for (const s of result.scenarios) lines.push(scenarioMarkdown(s));
  const targets = result.scenarios.flatMap((s) => (s.rows ?? []).filter((r) => r.pass !== null).map((r) => ({ s: s.name, r })));
  const missed = targets.filter((t) => !t.r.pass);
  const unsure = result.scenarios.filter((s) => !s.error && disturbed(s)).map((s) => s.name);
  lines.push(`Targets: ${targets.length - missed.length} of ${targets.length} met${missed.length ? `; missed: ${missed.map((t) => t.r.measure).join('; ')}` : ''}.`
    + (unsure.length ? ` Judged while the host took the machine (not evidence either way): ${unsure.join(', ')}.` : ''));
  if (result.mode === 'quick') {
    lines.push('Quick mode is for iterating: 2 s runs, 100,000 COPY rows, 500 idle connections (a fixed cost shared by half as'
      + ' many), 1 s audit runs (not warmed up). The targets are judged on a full run (`npm run bench`).');
  }
  lines.push(`Total time: ${Math.round(result.duration_s)} s.`, '');
  return lines.join('\n');
}
