import { describe, expect, it } from 'vitest';
import { DETECTOR_NAMES, DETECTORS } from '../../../../gateway/masking/index.js';
import type { DetectorName } from '../../../../gateway/masking/index.js';
import { labelledSet } from '../../../fixtures/masking/labelled.js';

/**
 * The acceptance check for content detectors: every detector runs on every labelled item.
 *
 * - precision: of all (item, detector) flags, the share where the detector is the item's label;
 * - recall: of all positives, the share flagged by their own detector.
 */
describe('detectors on the labelled set', () => {
  const items = labelledSet();
  const positives = items.filter((i) => i.label !== null);
  const nearMisses = items.filter((i) => i.label === null);

  it('has at least 1,000 positives (150 or more per detector) and 1,000 near-misses', () => {
    expect(positives.length).toBeGreaterThanOrEqual(1000);
    expect(nearMisses.length).toBeGreaterThanOrEqual(1000);
    for (const name of DETECTOR_NAMES) expect(positives.filter((p) => p.label === name).length).toBeGreaterThanOrEqual(150);
    expect(new Set(items.filter((i) => i.label === 'iban').map((i) => i.value.slice(0, 2))).size).toBeGreaterThanOrEqual(20);
  });

  it('reaches precision and recall of at least 99%', () => {
    let tp = 0;
    let fp = 0;
    let recalled = 0;
    const confusion = new Map<string, Map<DetectorName | 'none', number>>();
    const mistakes: string[] = [];
    for (const item of items) {
      const row = confusion.get(item.label ?? 'none') ?? new Map<DetectorName | 'none', number>();
      confusion.set(item.label ?? 'none', row);
      let flagged = false;
      for (const name of DETECTOR_NAMES) {
        if (!DETECTORS[name](item.value)) continue;
        flagged = true;
        row.set(name, (row.get(name) ?? 0) + 1);
        if (name === item.label) {
          tp++;
          recalled++;
        } else {
          fp++;
          mistakes.push(`  ${name} flagged ${item.label ?? 'near-miss'} (${item.kind}): ${JSON.stringify(item.value)}`);
        }
      }
      if (!flagged) {
        row.set('none', (row.get('none') ?? 0) + 1);
        if (item.label !== null) mistakes.push(`  missed ${item.label} (${item.kind}): ${JSON.stringify(item.value)}`);
      }
    }
    const precision = tp / (tp + fp);
    const recall = recalled / positives.length;
    const cols: (DetectorName | 'none')[] = [...DETECTOR_NAMES, 'none'];
    const lines = [
      `labelled set: ${positives.length} positives, ${nearMisses.length} near-misses`,
      `precision ${(precision * 100).toFixed(2)}% (${tp} right flags, ${fp} wrong), recall ${(recall * 100).toFixed(2)}% (${recalled}/${positives.length})`,
      `label \\ flagged by: ${cols.join(' ')}`,
      ...[...confusion].map(([label, row]) => `  ${label.padEnd(12)} ${cols.map((c) => String(row.get(c) ?? 0).padStart(c.length)).join(' ')}`),
      ...(mistakes.length ? ['mistakes:', ...mistakes.slice(0, 40)] : []),
    ];
    console.log(lines.join('\n'));
    expect(precision).toBeGreaterThanOrEqual(0.99);
    expect(recall).toBeGreaterThanOrEqual(0.99);
  });

  it('is the same set for the same seed', () => {
    expect(labelledSet().map((i) => i.value)).toEqual(items.map((i) => i.value));
  });
});
