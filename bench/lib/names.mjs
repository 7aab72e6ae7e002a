// Names shared by the stack and the scenarios.
export const ROLE = 'bench_rw';
export const TARGET_DB = 'bench';
/** Connections in the gateway's YAML; the scenarios refer to them by these names. */
export const CONN = { passthrough: 'passthrough', policy: 'policy', revoke: 'revoke', approval: 'approval' };
