// The build the benchmark runs: a private copy of dist/ and bin/ (node_modules linked), so that a rebuild of
// the working tree while the benchmark runs (other people's `tsc`) cannot swap modules under the gateway or the
// agent halfway through. `dist(p)` and `hoopBin()` point into the copy once `snapshotBuild` has run.
import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let base = ROOT;

/** Copies dist/, bin/ and package.json to a temp dir; returns a function that removes it. */
export async function snapshotBuild() {
  const dir = await mkdtemp(join(tmpdir(), 'hoop-bench-build-'));
  await mkdir(dir, { recursive: true });
  await cp(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  await cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  await cp(join(ROOT, 'package.json'), join(dir, 'package.json'));
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  base = dir;
  return async () => {
    base = ROOT;
    await rm(dir, { recursive: true, force: true });
  };
}

/** URL of a compiled module, e.g. dist('gateway/store/db.js'). */
export function dist(p) {
  return pathToFileURL(join(base, 'dist', p)).href;
}

/** The `hoop` executable of the build in use. */
export function hoopBin() {
  return join(base, 'bin', 'hoop');
}
