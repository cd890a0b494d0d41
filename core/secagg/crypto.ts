import { equalBytes, frame, unframe, utf8 } from './bytes.js';
import { refuse } from './errors.js';
import type { SessionInfo } from './params.js';
import { sodium } from './sodium.js';

/** Domain strings (DESIGN.md §4). Every hash, signature and AEAD input starts with one of them. */
export const DOMAIN = {
  advert: 'cohort/secagg/advert/v2',
  session: 'cohort/secagg/session/v2',
  graphCommit: 'cohort/secagg/graph-commit/v1',
  graphSeed: 'cohort/secagg/graph-seed/v1',
  share: 'cohort/secagg/share/v1',
  mask: 'cohort/secagg/mask/v1',
  self: 'cohort/secagg/self/v1',
  selfCommit: 'cohort/secagg/self-commit/v1',
  consistency: 'cohort/secagg/consistency/v1',
} as const;

export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const NONCE_BYTES = 24;

export interface X25519KeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export function x25519KeyPair(): X25519KeyPair {
  const { publicKey, privateKey } = sodium.crypto_box_keypair();
  return { publicKey, secretKey: privateKey };
}

/**
 * The points of small order on Curve25519 (and their non-canonical encodings p − 1, p, p + 1), as in
 * libsodium's `has_small_order`; compared with the top bit cleared, which X25519 ignores.
 */
const SMALL_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map((hex) => sodium.from_hex(hex));

/** True for an X25519 public key of small order (checked without a scalar multiplication). */
export function isSmallOrder(publicKey: Uint8Array): boolean {
  if (publicKey.length !== 32) return true;
  return SMALL_ORDER.some((point) => {
    let diff = (point[31]! ^ publicKey[31]!) & 0x7f;
    for (let i = 0; i < 31; i++) diff |= point[i]! ^ publicKey[i]!;
    return diff === 0;
  });
}

/**
 * X25519 that refuses small-order public keys: libsodium rejects them (and an all-zero output), and we
 * check the output again so the refusal never depends on a library detail.
 */
export function x25519(secretKey: Uint8Array, publicKey: Uint8Array, who: string): Uint8Array {
  if (isSmallOrder(publicKey)) refuse('low-order-point', `${who}'s X25519 key is a low-order point`);
  let shared: Uint8Array;
  try {
    shared = sodium.crypto_scalarmult(secretKey, publicKey);
  } catch {
    refuse('low-order-point', `${who}'s X25519 key is a low-order point`);
  }
  if (sodium.is_zero(shared)) refuse('low-order-point', `${who}'s X25519 key is a low-order point`);
  return shared;
}

/**
 * What a site signs in its advert. `graphCommitment` (SecAgg+ only, else empty: the field stays
 * length-prefixed, so the two cases cannot be confused) commits to its share of the graph's randomness.
 */
export function advertMessage(
  federationId: string,
  round: number,
  site: string,
  cPk: Uint8Array,
  sPk: Uint8Array,
  graphCommitment: Uint8Array | null,
): Uint8Array {
  return frame(DOMAIN.advert, federationId, round, site, cPk, sPk, graphCommitment ?? new Uint8Array(0));
}

/**
 * SecAgg+ commit-reveal: a site's commitment to r_u, 32 fresh random bytes, bound to its federation, round
 * and id (so no site can copy another's). BLAKE2b is preimage- and collision-resistant: a site cannot
 * open its commitment to another value after seeing the others' reveals.
 */
export function graphCommitment(
  federationId: string,
  round: number,
  site: string,
  seed: Uint8Array,
): Uint8Array {
  return sodium.crypto_generichash(32, frame(DOMAIN.graphCommit, federationId, round, site, seed), null);
}

/**
 * The SecAgg+ graph's seed: BLAKE2b over the revealed r_u of every site in U1, in site order. Each r_u was
 * committed to in a signed advert before anyone revealed, so as long as one site's r_u is random and
 * unseen when U1 is fixed the seed is uniform, and nobody, coordinator included, can choose it: after
 * the reveals the only lever left is aborting the round. Advert keys do not enter it, so re-drawing them
 * (which moves session_id) no longer moves the graph.
 */
export function graphSeed(
  federationId: string,
  round: number,
  reveals: readonly { site: string; seed: Uint8Array }[],
): Uint8Array {
  const sorted = [...reveals].sort((a, b) => (a.site < b.site ? -1 : a.site > b.site ? 1 : 0));
  const parts = sorted.flatMap((r) => [r.site, r.seed]);
  return sodium.crypto_generichash(32, frame(DOMAIN.graphSeed, federationId, round, ...parts), null);
}

export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return sodium.crypto_sign_detached(message, secretKey);
}

/** Never throws: false for any malformed input. */
export function verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== 32) return false;
  try {
    return sodium.crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return false;
  }
}

export interface AdvertKeys {
  site: string;
  cPk: Uint8Array;
  sPk: Uint8Array;
  /** SecAgg+: the commitment to the site's graph randomness; null for the complete graph. */
  graphCommitment: Uint8Array | null;
}

/**
 * session_id = BLAKE2b-256(domain ‖ federation ‖ round ‖ model hash ‖ config hash ‖ params ‖ sorted
 * adverts, commitments included), every field length-prefixed. `params` (vector length, t, k) is bound
 * too, so sites that disagree about any of them can never complete a round together.
 */
export function sessionId(info: SessionInfo, paramsTag: string, adverts: readonly AdvertKeys[]): Uint8Array {
  const sorted = [...adverts].sort((a, b) => (a.site < b.site ? -1 : a.site > b.site ? 1 : 0));
  const parts = sorted.flatMap((a) => [a.site, a.cPk, a.sPk, a.graphCommitment ?? new Uint8Array(0)]);
  const message = frame(
    DOMAIN.session,
    info.federationId,
    info.round,
    info.modelHash,
    info.configHash,
    paramsTag,
    ...parts,
  );
  return sodium.crypto_generichash(32, message, null);
}

/** The AEAD key between u and v: BLAKE2b-256(key = X25519(c_u^SK, c_v^PK), domain ‖ session_id). */
export function shareKey(sharedSecret: Uint8Array, session: Uint8Array): Uint8Array {
  return sodium.crypto_generichash(32, frame(DOMAIN.share, session), sharedSecret);
}

function shareAssociatedData(session: Uint8Array, from: string, to: string): Uint8Array {
  return frame(DOMAIN.share, session, from, to);
}

/** Encrypts `from ‖ to ‖ share(b_from) ‖ share(s_from^SK)` for `to`; returns nonce ‖ ciphertext. */
export function encryptShares(
  key: Uint8Array,
  session: Uint8Array,
  from: string,
  to: string,
  selfMaskShare: Uint8Array,
  keyShare: Uint8Array,
): Uint8Array {
  const nonce = sodium.randombytes_buf(NONCE_BYTES);
  const plaintext = frame(DOMAIN.share, from, to, selfMaskShare, keyShare);
  const ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    plaintext,
    shareAssociatedData(session, from, to),
    null,
    nonce,
    key,
  );
  const out = new Uint8Array(NONCE_BYTES + ciphertext.length);
  out.set(nonce);
  out.set(ciphertext, NONCE_BYTES);
  return out;
}

/** Decrypts a share envelope that claims to come from `from` for `to`, and checks the inner names. */
export function decryptShares(
  key: Uint8Array,
  session: Uint8Array,
  from: string,
  to: string,
  envelope: Uint8Array,
): { selfMaskShare: Uint8Array; keyShare: Uint8Array } {
  if (envelope.length < NONCE_BYTES + 16) refuse('decrypt-failed', `share from ${from} is too short`);
  let plaintext: Uint8Array;
  try {
    plaintext = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null,
      envelope.subarray(NONCE_BYTES),
      shareAssociatedData(session, from, to),
      envelope.subarray(0, NONCE_BYTES),
      key,
    );
  } catch {
    refuse('decrypt-failed', `share from ${from} does not authenticate`);
  }
  let parts: Uint8Array[];
  try {
    parts = unframe(plaintext, 5);
  } catch {
    refuse('share-mismatch', `share from ${from} is malformed`);
  }
  const [domain, innerFrom, innerTo, selfMaskShare, keyShare] = parts as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  if (
    !equalBytes(domain, utf8(DOMAIN.share)) ||
    !equalBytes(innerFrom, utf8(from)) ||
    !equalBytes(innerTo, utf8(to))
  ) {
    refuse('share-mismatch', `share from ${from} names another sender or recipient`);
  }
  return { selfMaskShare: selfMaskShare.slice(), keyShare: keyShare.slice() };
}

/**
 * s_uv = BLAKE2b-256(key = X25519(s_u^SK, s_v^PK), "cohort/secagg/mask/v1" ‖ session_id ‖ min(u,v) ‖
 * max(u,v)): the same for both ends of the pair, different for every pair and every round.
 */
export function pairSeed(sharedSecret: Uint8Array, session: Uint8Array, u: string, v: string): Uint8Array {
  const [lo, hi] = u < v ? [u, v] : [v, u];
  return sodium.crypto_generichash(32, frame(DOMAIN.mask, session, lo, hi), sharedSecret);
}

/** The self-mask stream key of site u: BLAKE2b-256(key = b_u, domain ‖ session_id ‖ u). */
export function selfMaskKey(selfSeed: Uint8Array, session: Uint8Array, site: string): Uint8Array {
  return sodium.crypto_generichash(32, frame(DOMAIN.self, session, site), selfSeed);
}

/** A commitment to b_u the coordinator checks its reconstruction against (BLAKE2b is preimage-resistant). */
export function selfSeedCommitment(selfSeed: Uint8Array, session: Uint8Array, site: string): Uint8Array {
  return sodium.crypto_generichash(32, frame(DOMAIN.selfCommit, session, site, selfSeed), null);
}

/** What each site in U3 signs in the consistency check: session_id ‖ sorted(U3). */
export function consistencyMessage(session: Uint8Array, alive: readonly string[]): Uint8Array {
  return frame(DOMAIN.consistency, session, ...[...alive].sort());
}

export function publicKeyOf(x25519SecretKey: Uint8Array): Uint8Array {
  return sodium.crypto_scalarmult_base(x25519SecretKey);
}

/** The pairwise seeds a dead site v shared with its alive neighbours, from v's reconstructed s_v^SK. */
export interface PairSeedJob {
  site: string;
  secretKey: Uint8Array;
  peers: { site: string; publicKey: Uint8Array }[];
}

export function derivePairSeeds(session: Uint8Array, jobs: readonly PairSeedJob[]): Uint8Array[][] {
  return jobs.map(({ site, secretKey, peers }) =>
    peers.map((peer) => pairSeed(x25519(secretKey, peer.publicKey, peer.site), session, peer.site, site)),
  );
}
