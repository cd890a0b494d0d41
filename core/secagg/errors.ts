/**
 * Every refusal and failure of the protocol has a code, so the caller (round engine, tests, UI) can tell
 * "the coordinator lied" from "too many sites dropped" without parsing messages.
 */
export type SecAggErrorCode =
  /** A message the current stage does not expect: replayed, reordered, or after the end. */
  | 'unexpected-message'
  /** A message for another federation, round or session. */
  | 'wrong-session'
  /** A message that does not match its schema (untrusted input). */
  | 'malformed'
  /** An Ed25519 signature (advert or consistency) that does not verify against the pinned key. */
  | 'bad-signature'
  /** A site id that is not in the roster / not in U1, or a message from a site that was not asked. */
  | 'unknown-site'
  /** A site listed twice, or a second message from the same site in one stage. */
  | 'duplicate-site'
  /** A site listed both alive and dead. */
  | 'alive-dead-overlap'
  /** This site listed as dead. */
  | 'self-dead'
  /** This site missing from a list it must be in (adverts, alive list). */
  | 'self-missing'
  /** Fewer sites than the threshold t (or a neighbourhood's threshold). */
  | 'below-threshold'
  /** A consistency list signed by fewer than t sites. */
  | 'insufficient-signatures'
  /** An alive/dead list that differs from what this site saw in earlier stages. */
  | 'list-mismatch'
  /** A decrypted share whose sender/recipient fields do not match the envelope. */
  | 'share-mismatch'
  /** A share ciphertext that fails authentication. */
  | 'decrypt-failed'
  /** An X25519 public key of small order (the shared secret would be predictable). */
  | 'low-order-point'
  /** An input or masked vector of the wrong length. */
  | 'wrong-length'
  /** SecAgg+: a revealed graph seed that does not open its advert's commitment. */
  | 'bad-reveal'
  /** SecAgg+: a site in U1 whose graph seed was not revealed (the graph needs every one: the round aborts). */
  | 'missing-reveal'
  /** Shamir reconstruction that does not match the committed/advertised value. */
  | 'reconstruction-failed'
  /** A message for a stage the coordinator already closed (late). */
  | 'stage-closed'
  /** Any call on a state machine that aborted earlier. */
  | 'aborted'
  /** Bad parameters from the caller (threshold, neighbours, roster, keys). */
  | 'invalid-config';

export class SecAggError extends Error {
  constructor(
    readonly code: SecAggErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'SecAggError';
  }
}

export function refuse(code: SecAggErrorCode, message: string): never {
  throw new SecAggError(code, message);
}
