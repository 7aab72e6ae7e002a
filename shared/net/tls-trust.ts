/**
 * Node's codes for a TLS peer whose certificate chain is not trusted (an unknown CA, a self-signed certificate,
 * a missing intermediate): the usual trouble with a gateway behind a company CA, and one setting fixes it.
 */

const UNTRUSTED = /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_UNTRUSTED|UNABLE_TO_GET_CRL)$/;

/** Whether a socket or TLS error code says the peer's certificate is not trusted here. */
export function isUntrustedCertificate(code: string | undefined): boolean {
  return code !== undefined && UNTRUSTED.test(code);
}

/** What to do about it, for a process started by hoop (the agent takes its environment from `hoop connect`). */
export const TRUST_HINT_AGENT = 'the agent does not trust the gateway\'s TLS certificate: set NODE_EXTRA_CA_CERTS to the PEM file of the CA '
  + 'that issued it, then run `hoop agent stop` and `hoop connect` again (the agent takes the variable from the command that starts it)';
