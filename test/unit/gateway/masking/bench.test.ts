import { describe, expect, it } from 'vitest';
import { DETECTOR_NAMES, measureDetectors, typicalValues } from '../../../../gateway/masking/index.js';

// Prints throughput only; timing is never asserted (machines differ). `npm run bench` runs it for longer.
describe('measureDetectors', () => {
  it('reports values per second for each detector and for all of them', () => {
    const values = typicalValues(2000, 7);
    expect(typicalValues(2000, 7)).toEqual(values);
    const r = measureDetectors(values, 25);
    expect(Object.keys(r).sort()).toEqual([...DETECTOR_NAMES, 'all'].sort());
    for (const v of Object.values(r)) expect(v).toBeGreaterThan(0);
    console.log(`detector throughput (values/s, short run): ${JSON.stringify(r)}`);
  });

  it('refuses an empty sample', () => {
    expect(() => measureDetectors([], 1)).toThrow(RangeError);
  });
});
