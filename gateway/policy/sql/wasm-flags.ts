/**
 * Keeps PostgreSQL's parser (libpg-query, WebAssembly) on V8's baseline WebAssembly compiler, Liftoff.
 *
 * Left to its defaults, V8 recompiles the parser's hot functions with TurboFan in the background shortly after
 * the first statements: 25-45 MB of compiler memory (glibc keeps it for the life of the process) plus the
 * optimized code, for no measurable gain here, since parse + analysis time is dominated by turning the tree into
 * JSON and walking it (the bench's components scenario shows the same p50 either way).
 *
 * libpg-query starts compiling its module as soon as it is imported, so every module of ours that imports it
 * imports this one first. The flag is process-wide: it applies to any WebAssembly compiled after it.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--liftoff-only');
