#!/usr/bin/env node
// `npm run bench [-- --quick] [--only throughput,bulk,...] [--rounds N] [--seconds N] [--clients 1,8,32]
//   [--paths passthrough,policy] [--reference] [--profile DIR] [--gateway-node-flags "--flag ..."]`
// --reference adds a throughput path through two plain Node.js TCP relays (bench/reference-relay.mjs): the
// ceiling of any two-hop Node.js proxy on this machine, to read the targets against.
// --gateway-node-flags starts the gateway under these Node.js flags, to measure a deployment choice (see
// docs/configuration.md); the report says so, since the targets are judged on the gateway as shipped.
//
// Starts one embedded PostgreSQL, the dev IdP, the gateway (its own process) and the agent (through the real
// CLI), runs each scenario with direct and hoop runs interleaved, and prints Markdown tables; everything also
// goes to bench/results/latest.json. Exit 0 when the benchmark ran (missed targets are in the tables), 1 when it
// failed, 2 on bad arguments, 130 when interrupted.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout } from 'node:timers';
import { snapshotBuild } from './lib/build.mjs';
import { startStack } from './lib/stack.mjs';
import { loadAverage, log, onPath, round } from './lib/util.mjs';
import { readHostCpu, stealShare } from './lib/cpu.mjs';
import { machineInfo, reportMarkdown } from './lib/report.mjs';
import { components } from './scenarios/components.mjs';
import { connectSetup } from './scenarios/connect.mjs';
import { scale } from './scenarios/scale.mjs';
import { throughput } from './scenarios/throughput.mjs';
import { bulk } from './scenarios/bulk.mjs';
import { latency } from './scenarios/latency.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// Order matters a little: scale runs before the bulk transfers so that its RSS baseline is not inflated by them.
const SCENARIOS = { components, connect: connectSetup, scale, throughput, bulk, latency };

const MODES = {
  quick: {
    rounds: 2, seconds: 2, clients: [1, 8, 32], scale: 1, bulkRows: 100_000, connections: 100, scaleConnections: 500,
    scaleOpenBudgetMs: 60_000, detectorMs: 100, parseIterations: 3000, auditMs: 1000, latencySamples: 2, watchdogMs: 10 * 60_000,
  },
  full: {
    rounds: 3, seconds: 15, clients: [1, 8, 32], scale: 10, bulkRows: 1_000_000, connections: 200, scaleConnections: 1000,
    scaleOpenBudgetMs: 300_000, detectorMs: 1000, parseIterations: 20_000, auditMs: 5000, latencySamples: 5, watchdogMs: 90 * 60_000,
  },
};

function parseArgs(argv) {
  const a = { quick: false, reference: false, only: null, paths: undefined, rounds: undefined, seconds: undefined, clients: undefined, profile: undefined, out: undefined, gatewayNodeFlags: [] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${k} needs a value`);
      return v;
    };
    if (k === '--quick') a.quick = true;
    else if (k === '--reference') a.reference = true;
    else if (k === '--only') a.only = val().split(',').map((s) => s.trim()).filter(Boolean);
    else if (k === '--rounds') a.rounds = positive(val(), k);
    else if (k === '--seconds') a.seconds = positive(val(), k);
    else if (k === '--clients') a.clients = val().split(',').map((s) => positive(s, k));
    else if (k === '--profile') a.profile = val();
    else if (k === '--paths') a.paths = val().split(',').map((s) => s.trim()).filter(Boolean);
    else if (k === '--out') a.out = val();
    else if (k === '--gateway-node-flags') a.gatewayNodeFlags = nodeFlags(val(), k);
    else if (k === '--help' || k === '-h') {
      process.stdout.write('usage: node bench/run.mjs [--quick] [--only ' + Object.keys(SCENARIOS).join(',') + '] [--rounds N] [--seconds N] [--clients 1,8,32] [--paths passthrough,policy] [--reference] [--profile DIR] [--gateway-node-flags "--flag ..."] [--out FILE]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${k}`);
  }
  for (const s of a.only ?? []) if (!SCENARIOS[s]) throw new Error(`unknown scenario "${s}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
  return a;
}

/** `--a=1 --b` into its flags; each must be a Node.js option, so nothing else (a script) rides along. */
function nodeFlags(v, k) {
  const flags = v.split(/\s+/).filter(Boolean);
  const bad = flags.find((f) => !/^--[a-z0-9][a-z0-9-]*(=\S+)?$/i.test(f));
  if (flags.length === 0 || bad !== undefined) throw new Error(`${k} takes Node.js flags such as "--initial-old-space-size=64", got ${JSON.stringify(bad ?? v)}`);
  return flags;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function positive(v, k) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${k} expects a positive integer, not "${v}"`);
  return n;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`error: ${e.message}\n`);
    return 2;
  }
  if (!existsSync(join(ROOT, 'dist', 'gateway', 'main.js'))) {
    process.stderr.write('error: hoop is not built\nhint: run `npm run build` (or `npx tsc -p .`) first\n');
    return 1;
  }
  const mode = args.quick ? 'quick' : 'full';
  const cfg = { ...MODES[mode] };
  if (args.rounds) cfg.rounds = args.rounds;
  if (args.seconds) cfg.seconds = args.seconds;
  if (args.clients) cfg.clients = args.clients;
  cfg.paths = args.paths; // hoop paths for throughput and bulk (profiling one at a time); direct always runs
  const selected = Object.keys(SCENARIOS).filter((s) => !args.only || args.only.includes(s));
  const started = performance.now();
  const machine = machineInfo(ROOT);
  log(`mode ${mode}, scenarios ${selected.join(', ')}, load average ${machine.load_average_start.join(' ')}`);

  let stack;
  let dropBuild;
  let interrupted = false;
  const cleanup = async () => {
    const s = stack;
    stack = undefined;
    if (s) await s.close();
    const d = dropBuild;
    dropBuild = undefined;
    if (d) await d();
  };
  const onSignal = (sig) => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A crash outside the scenarios' own error handling (an 'error' event nobody listens to, say) must not leave the
  // gateway, the agent and PostgreSQL running with nobody to stop them.
  const onCrash = (e) => {
    log(`the benchmark crashed: ${e?.stack ?? e}`);
    if (interrupted) return;
    interrupted = true;
    void cleanup().finally(() => process.exit(1));
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  const watchdog = setTimeout(() => {
    log(`the benchmark ran longer than ${cfg.watchdogMs / 60_000} min; stopping`);
    void cleanup().finally(() => process.exit(1));
  }, cfg.watchdogMs);
  watchdog.unref();

  const result = {
    mode, rounds: cfg.rounds, config: cfg, machine, gateway_node_flags: args.gatewayNodeFlags, started_at: new Date().toISOString(),
    tools: { pgbench: onPath('pgbench') ?? null, psql: onPath('psql') ?? null, pgbouncer: onPath('pgbouncer') ?? null },
    scenarios: [],
  };
  let failed = false;
  try {
    dropBuild = await snapshotBuild();
    stack = await startStack({
      scale: cfg.scale, bulkRows: cfg.bulkRows, maxConnections: Math.max(300, cfg.scaleConnections + 200),
      profileDir: args.profile, gatewayNodeFlags: args.gatewayNodeFlags, reference: args.reference && (selected.includes('throughput') || selected.includes('bulk')), withPgbouncer: Boolean(result.tools.pgbouncer) && selected.includes('throughput'),
    });
    result.setup_s = Math.round((performance.now() - started) / 100) / 10;
    log(`stack ready in ${result.setup_s} s (gateway pid ${stack.gatewayPid}, agent pid ${stack.agentPid})`);
    for (const name of selected) {
      log(`scenario ${name}`);
      const t0 = performance.now();
      const load1 = [loadAverage()[0]];
      const host = readHostCpu();
      let s;
      try {
        for (const [what, pid] of [['agent', stack.agentPid], ['gateway', stack.gatewayPid]]) {
          if (!alive(pid)) throw new Error(`the ${what} (pid ${pid}) is gone; see bench/results/${what}.log`);
        }
        s = await SCENARIOS[name](stack, cfg);
      } catch (e) {
        failed = true;
        log(`scenario ${name} failed: ${e.stack ?? e}`);
        for (const [what, pid] of [['agent', stack.agentPid], ['gateway', stack.gatewayPid]]) {
          if (!alive(pid)) log(`the ${what} (pid ${pid}) is no longer running; its log is kept in bench/results/${what}.log`);
        }
        s = { title: name, rows: [], error: e.message };
      }
      load1.push(loadAverage()[0]);
      const steal = stealShare(host, readHostCpu());
      result.scenarios.push({ name, ...s, load1, ...(steal === undefined ? {} : { host_steal: round(steal, 4) }), seconds: Math.round((performance.now() - t0) / 100) / 10 });
    }
  } catch (e) {
    failed = true;
    log(`the benchmark failed: ${e.stack ?? e}`);
    result.error = e.message;
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }
  result.machine.load_average_end = loadAverage();
  result.duration_s = (performance.now() - started) / 1000;
  result.failed = failed;
  process.stdout.write(reportMarkdown(result) + '\n');
  const out = args.out ?? join(ROOT, 'bench', 'results', 'latest.json');
  await mkdir(join(out, '..'), { recursive: true });
  await writeFile(out, JSON.stringify(result, null, 2) + '\n');
  log(`results written to ${out}`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
// Whatever a library left open must not keep the process alive once the results are out.
setTimeout(() => process.exit(), 3000).unref();
