/**
 * Times shown to people, one format for the whole CLI: UTC, as `HH:MM:SSZ` (with the date in front when it is not
 * today), as docs/cli.md promises. The function lives in shared/duration.ts so that `hoop agent status`, which
 * the agent formats and which may not import cli/, shows times the same way.
 */
export { clockTime } from '../../shared/duration.js';
