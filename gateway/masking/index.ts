/**
 * Masking: pure functions that rewrite PostgreSQL result values, DataRows and COPY data. No I/O; the engine
 * decides what to mask (the plan) and writes the bytes.
 */
export {
  DETECTOR_NAMES,
  DETECTORS,
  FINDERS,
  detectWhole,
  findSpans,
  isDetectorName,
} from './detectors/index.js';
export type { DetectedSpan, Detector, DetectorName, Span, SpanFinder } from './detectors/index.js';
export { applyStrategy, hashValue, maskEmbedded, MASK_STRATEGIES, REDACTED } from './strategies.js';
export type { EmbeddedResult, MaskStrategy, StrategyContext } from './strategies.js';
export { partialMask } from './partial.js';
export { TypeOid, typeClassOf } from './type-class.js';
export type { ColumnType, TypeClass } from './type-class.js';
export { maskJsonText, maskString, maskText, maskValue } from './values.js';
export type { MaskAction, MaskContext } from './values.js';
export { maskDataRow } from './data-row.js';
export type { DataRowResult, RowFrame } from './data-row.js';
export { BINARY_COPY_SIGNATURE, createCopyMasker, isBinaryCopy } from './copy-text.js';
export type { CopyColumn, CopyMasker, CopyMaskOptions } from './copy-text.js';
export { measureDetectors, typicalValues } from './bench.js';
