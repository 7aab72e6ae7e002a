#!/usr/bin/env node
// Summarises V8 .cpuprofile files (node --cpu-prof): self time by function + script, and by script.
//   node bench/profile-summary.mjs <file-or-dir>... [--top 10] [--json]
// Idle time is reported apart; percentages are of the non-idle time.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Components, by the first frame from the leaf up whose script matches (native frames count for their caller). */
const COMPONENTS = [
  ['audit chain (canonical JSON, hashing)', /dist\/(gateway\/audit|shared\/audit)\//],
  ['state-db client (node-postgres)', /nm\/(pg|pg-pool|pg-protocol|pg-types)\//],
  ['recording (sessions/statements tables)', /dist\/gateway\/recording\//],
  ['SQL parser (libpg-query + analysis)', /nm\/libpg-query\/|^wasm:|dist\/gateway\/policy\//],
  ['masking', /dist\/gateway\/masking\/|result-masker|masking-plan|copy-/],
  ['WebSocket (ws)', /nm\/ws\//],
  ['pg engine (framing, relay, session)', /dist\/gateway\/engines\//],
  ['tunnel relay (shared/net, shared/tunnel)', /dist\/shared\/(net|tunnel)\//],
  ['agent', /dist\/agent\//],
  ['other hoop code', /^dist\//],
  ['other libraries', /^nm\//],
];

function componentOf(id, byId, parent) {
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const url = shorten(byId.get(cur).callFrame.url ?? '');
    if (!url || url.startsWith('node:')) continue;
    for (const [name, re] of COMPONENTS) if (re.test(url)) return name;
  }
  const fn = byId.get(id).callFrame.functionName;
  return fn.startsWith('(') ? fn : 'Node.js internals';
}

export function summarise(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map(); // node id → µs
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i + 1] is the time until the next sample: the time this sample stands for.
    const dt = timeDeltas[i + 1] ?? 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const fn = new Map();
  const script = new Map();
  const component = new Map();
  let idle = 0;
  let total = 0;
  for (const [id, us] of self) {
    const cf = byId.get(id).callFrame;
    if (cf.functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const file = cf.url ? shorten(cf.url) : '';
    const key = `${cf.functionName || '(anonymous)'} ${file}${file ? `:${cf.lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const comp = componentOf(id, byId, parent);
    component.set(comp, (component.get(comp) ?? 0) + us);
    const s = file ? file : cf.functionName;
    script.set(s, (script.get(s) ?? 0) + us);
  }
  const rank = (m) => [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, pct: Math.round((us / total) * 1000) / 10 }));
  const wall = (profile.endTime - profile.startTime) / 1000;
  return { wall_ms: Math.round(wall), busy_ms: Math.round(total / 1000), idle_ms: Math.round(idle / 1000), functions: rank(fn), scripts: rank(script), components: rank(component) };
}

function shorten(url) {
  let p = url.replace(/^file:\/\//, '');
  if (p.startsWith(ROOT)) p = relative(ROOT, p);
  p = p.replace(/^.*\/hoop-bench-build-[^/]+\//, ''); // the benchmark's private copy of the build (lib/build.mjs)
  return p.replace(/^node_modules\//, 'nm/');
}

function files(args) {
  const out = [];
  for (const a of args) {
    if (statSync(a).isDirectory()) {
      for (const f of readdirSync(a)) if (f.endsWith('.cpuprofile')) out.push(join(a, f));
    } else out.push(a);
  }
  return out;
}

function main() {
  process.stdout.on('error', () => process.exit(0)); // e.g. piped into head
  const argv = process.argv.slice(2);
  const top = Number(argv[argv.indexOf('--top') + 1]) || 10;
  const json = argv.includes('--json');
  const paths = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--top');
  const results = files(paths).map((f) => ({ file: f, ...summarise(JSON.parse(readFileSync(f, 'utf8'))) }));
  if (json) {
    process.stdout.write(JSON.stringify(results.map((r) => ({ ...r, functions: r.functions.slice(0, top), scripts: r.scripts.slice(0, top) })), null, 2) + '\n');
    return;
  }
  for (const r of results) {
    process.stdout.write(`\n${r.file}: ${r.wall_ms} ms profiled, ${r.busy_ms} ms busy, ${r.idle_ms} ms idle\n\n`);
    process.stdout.write('| # | self ms | % of busy | function (script:line) |\n|---:|---:|---:|---|\n');
    r.functions.slice(0, top).forEach((f, i) => process.stdout.write(`| ${i + 1} | ${f.ms} | ${f.pct} | \`${f.name}\` |\n`));
    process.stdout.write('\n| self ms | % of busy | component (first matching frame from the leaf up) |\n|---:|---:|---|\n');
    r.components.forEach((f) => process.stdout.write(`| ${f.ms} | ${f.pct} | ${f.name} |\n`));
    process.stdout.write('\n| self ms | % of busy | script |\n|---:|---:|---|\n');
    r.scripts.slice(0, top).forEach((f) => process.stdout.write(`| ${f.ms} | ${f.pct} | \`${f.name}\` |\n`));
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
