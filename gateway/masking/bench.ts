/**
 * Throughput of the content detectors, for `npm run bench`. Nothing here runs on the data path.
 */
import { DETECTOR_NAMES, DETECTORS } from './detectors/index.js';
import type { DetectorName } from './detectors/index.js';

/** Values per second through each detector, and through all of them in turn (`all`). */
export function measureDetectors(values: readonly string[], durationMs: number): Record<DetectorName | 'all', number> {
  if (values.length === 0) throw new RangeError('measureDetectors needs at least one value');
  const result = {} as Record<DetectorName | 'all', number>;
  let sink = 0;
  const run = (check: (v: string) => number): number => {
    for (const v of values) sink += check(v); // warm-up: let the JIT settle first
    const start = performance.now();
    let n = 0;
    let elapsed: number;
    do {
      for (const v of values) sink += check(v);
      n += values.length;
      elapsed = performance.now() - start;
    } while (elapsed < durationMs);
    return Math.round(n / (elapsed / 1000));
  };
  for (const name of DETECTOR_NAMES) {
    const d = DETECTORS[name];
    result[name] = run((v) => (d(v) ? 1 : 0));
  }
  const all = DETECTOR_NAMES.map((n) => DETECTORS[n]);
  result.all = run((v) => {
    let hits = 0;
    for (const d of all) if (d(v)) hits++;
    return hits;
  });
  if (sink < 0) throw new RangeError('unreachable'); // keeps the results observable to the optimiser
  return result;
}

/**
 * A seeded mix of typical short column values (names, ids, amounts, dates, timestamps, emails, cities, status
 * words, a few cards and phones), for benchmarks that need no fixture.
 */
export function typicalValues(count = 10_000, seed = 1): string[] {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)] as T;
  const names = ['Alice', 'Bob', 'Carol Smith', 'Dmitri', 'Élodie Martin', 'Sam O\'Neil', 'Zhang Wei', 'Fatima'];
  const words = ['active', 'pending', 'shipped', 'cancelled', 'Berlin', 'São Paulo', 'New York', 'refund', 'ok'];
  const gens: (() => string)[] = [
    () => pick(names),
    () => pick(words),
    () => String(int(1_000_000)),
    () => (int(100_000) / 100).toFixed(2),
    () => `2024-${String(1 + int(12)).padStart(2, '0')}-${String(1 + int(28)).padStart(2, '0')}`,
    () => `2024-01-05 ${String(int(24)).padStart(2, '0')}:${String(int(60)).padStart(2, '0')}:11.123+00`,
    () => `${pick(names).split(' ')[0]?.toLowerCase() ?? 'x'}${int(100)}@example.com`,
    () => `ord_${int(1e9).toString(36)}`,
    () => `${int(256)}.${int(256)}.${int(256)}.${int(256)}`,
    () => '4242 4242 4242 4242',
    () => `+1 415-555-${String(int(10_000)).padStart(4, '0')}`,
    () => `${pick(words)} order for ${pick(names)}, ref ${int(100_000)}`,
  ];
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(pick(gens)());
  return out;
}
