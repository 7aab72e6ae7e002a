/**
 * Source of the parser worker, run with `new Worker(WORKER_SOURCE, { eval: true })`.
 *
 * The worker imports the analyser module by URL (workerData.moduleUrl) and answers `{ id, sql }` messages with
 * `{ id, result }` or `{ id, error }`. Keeping it a string means there is no worker file whose path differs
 * between the compiled `dist/` tree and the TypeScript sources.
 *
 * From the compiled tree the module URL names `analyze.js` and nothing else is needed. From TypeScript sources
 * (vitest, which runs .ts files in its own module runner, not in Node), Node cannot load `analyze.ts` by itself;
 * the worker then first registers TS_HOOKS_SOURCE, module hooks that strip types with the `typescript`
 * package (a dev dependency, present wherever the sources are run).
 */

export const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { register } = require('node:module');
(async () => {
  if (workerData.tsHooksUrl) register(workerData.tsHooksUrl, { data: { base: workerData.base } });
  const mod = await import(workerData.moduleUrl);
  await mod.loadSqlModule();
  parentPort.on('message', (msg) => {
    let reply;
    try {
      reply = { id: msg.id, result: mod.parseSql(msg.sql) };
    } catch (err) {
      reply = { id: msg.id, error: err instanceof Error ? (err.stack || err.message) : String(err) };
    }
    parentPort.postMessage(reply);
  });
})();
`;

export const TS_HOOKS_SOURCE = `
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
let ts;
export function initialize(data) {
  ts = createRequire(data.base)('typescript');
}
export async function resolve(specifier, context, nextResolve) {
  const parent = context.parentURL;
  if (parent && parent.endsWith('.ts') && /^\\.\\.?\\//.test(specifier) && specifier.endsWith('.js')) {
    const url = new URL(specifier.slice(0, -3) + '.ts', parent);
    if (existsSync(fileURLToPath(url))) return { url: url.href, format: 'module', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('.ts')) {
    const source = await readFile(new URL(url), 'utf8');
    const out = ts.transpileModule(source, {
      fileName: fileURLToPath(url),
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    return { format: 'module', source: out.outputText, shortCircuit: true };
  }
  return nextLoad(url, context);
}
`;
