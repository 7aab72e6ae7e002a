/** The README.md written into every evidence bundle, for the auditor who receives it. */

export interface ReadmeFacts {
  gateway: string;
  createdAt: string;
  since: string | null;
  until: string | null;
  firstSeq: number | null;
  lastSeq: number | null;
  anchor: { seq: number; hash: string } | null;
  checkpoints: number;
  /** The public keys shipped, by kid and RFC 7638 SHA-256 thumbprint. */
  keys: readonly { kid: string; thumbprint: string }[];
}

export function bundleReadme(f: ReadmeFacts): string {
  const range = f.firstSeq === null ? 'no records' : `records ${f.firstSeq} to ${f.lastSeq}`;
  const anchor = f.anchor
    ? `The range does not start at the beginning of the log. Its first record links to record ${f.anchor.seq}, whose hash is
\`${f.anchor.hash}\` (the \`anchor\` in manifest.json). A checkpoint at seq ${f.anchor.seq}, when present, vouches for it.`
    : 'The range starts at the beginning of the log: the first record\'s `prev_hash` is 64 zeros.';
  return `# hoop evidence bundle

Exported from the hoop gateway at ${f.gateway} on ${f.createdAt}.
Time range: ${f.since ?? 'the beginning'} to ${f.until ?? 'now'} (${range}); ${f.checkpoints} signed checkpoint(s).

## Files

| file | what it is |
|---|---|
| \`records.jsonl\` | the audit records, one JSON object per line, in seq order |
| \`checkpoints.json\` | signed checkpoints: \`{ seq, hash, time, kid, sig }\` |
| \`public-keys.json\` | the gateway's Ed25519 public keys (JWKS); thumbprints: ${f.keys.map((k) => k.thumbprint).join(', ') || 'none'} |
| \`manifest.json\` | the range, the anchor, and the SHA-256 and size of every other file; signed by the gateway |
| \`sessions.csv\`, \`statements.csv\` | convenience views (RFC 4180 CSV). They are covered by the manifest but are not part of the hash chain |

## Verify with hoop

    hoop audit verify --bundle <this directory>

It checks every file against the manifest, the manifest's signature, the hash chain and every checkpoint.

A bundle is only as trustworthy as the key you check it with. Anyone can write a bundle that verifies against
a key of their own, shipped in its \`public-keys.json\`, so this file cannot vouch for its keys either. Get the
gateway's keys from the gateway itself, over a channel you trust, and check against them:

    hoop audit keys --out gateway-keys.json        # asks the gateway for its public keys
    hoop audit verify --bundle <this directory> --keys gateway-keys.json

or compare the SHA-256 thumbprint that \`hoop audit verify --bundle\` prints with the one \`hoop audit keys\`
prints.

## Verify by hand

Anyone with a SHA-256 tool and an Ed25519 verifier can check the bundle without hoop.

1. **Files.** For each entry in \`manifest.json\` \`files\`, \`sha256sum <file>\` must print the listed hex digest.
2. **Canonical form.** Hashes and signatures are computed over RFC 8785 canonical JSON (JCS): object members
   sorted by key (UTF-16 code units), no whitespace, strings escaped as ECMAScript \`JSON.stringify\` does,
   numbers in ECMAScript shortest form. Each line of \`records.jsonl\` is already in this form.
3. **Records.** For each record, remove the \`hash\` member and take the SHA-256 of the UTF-8 bytes of the
   canonical JSON of what is left. It must equal \`hash\`. Each record's \`prev_hash\` must equal the previous
   record's \`hash\`, and \`seq\` must go up by one. ${anchor}
4. **Checkpoints.** For each checkpoint, the record with the same \`seq\` must have the same \`hash\`. Its
   \`sig\` (base64url) must be a valid Ed25519 signature, by the key in \`public-keys.json\` with the same
   \`kid\`, over the canonical JSON of \`{"hash":…,"seq":…,"time":…}\`.
5. **Manifest signature.** \`manifest.json\`'s \`signature.sig\` (base64url) must be a valid Ed25519 signature
   by key \`signature.kid\` over the canonical JSON of the manifest without the \`signature\` member. A manifest
   without one was not written by hoop. A key's thumbprint (RFC 7638) is the base64url SHA-256 of the
   canonical JSON of its \`crv\`, \`kty\` and \`x\` members.

Records after the last checkpoint are linked to it but not yet signed. A record whose payload (returned rows)
was removed by retention keeps \`data.payload_sha256\`, so the chain still verifies.
`;
}
