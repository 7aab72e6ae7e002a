// Table rows: a measure, its direct and hoop medians, per-round ratios, the median ratio and a target verdict.
import { median, round } from './util.mjs';

/**
 * `direct` and `hoop` are per-round values (same index = same round).
 * `target`: { minRatio } (hoop/direct at least), or { maxDelta } (hoop − direct at most, in `unit`).
 */
export function ratioRow({ measure, unit, direct, hoop, target, digits, directLabel, hoopLabel }) {
  const ratios = hoop.map((h, i) => (Number.isFinite(h) && Number.isFinite(direct[i]) && direct[i] !== 0 ? h / direct[i] : NaN));
  const d = median(direct);
  const h = median(hoop);
  const medianRatio = median(ratios);
  let targetText = '—';
  let pass = null;
  if (target?.minRatio !== undefined) {
    targetText = `≥ ${target.minRatio.toFixed(2)} × direct`;
    pass = medianRatio >= target.minRatio;
  } else if (target?.maxDelta !== undefined) {
    targetText = `≤ direct + ${target.maxDelta} ${unit}`;
    pass = h - d <= target.maxDelta;
  }
  return {
    measure, unit, direct: d, hoop: h, ratios: ratios.map((r) => round(r, 3)), medianRatio: round(medianRatio, 3),
    target: targetText, pass, digits, directLabel, hoopLabel, perRound: { direct, hoop },
  };
}

/** A figure with no direct counterpart (components, scale): `values` per round, reported as their median. */
export function valueRow({ measure, unit, values, target, digits, note }) {
  const v = median(values);
  let targetText = '—';
  let pass = null;
  if (target?.min !== undefined) {
    targetText = `≥ ${fmt(target.min, unit, 0)}`;
    pass = v >= target.min;
  } else if (target?.max !== undefined) {
    targetText = `≤ ${fmt(target.max, unit, 0)}`;
    pass = v <= target.max;
  } else if (target?.equals !== undefined) {
    targetText = `= ${target.equals}`;
    pass = v === target.equals;
  }
  return { measure, unit, direct: null, hoop: v, values, ratios: [], medianRatio: null, target: targetText, pass, digits, note };
}

export function fmt(x, unit, digits) {
  if (x === null || x === undefined) return '—';
  if (typeof x === 'string') return x;
  if (!Number.isFinite(x)) return 'n/a';
  const d = digits ?? (Math.abs(x) >= 1000 ? 0 : Math.abs(x) >= 100 ? 1 : 2);
  const s = x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  return unit ? `${s} ${unit}` : s;
}
