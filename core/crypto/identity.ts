import { domainMessage, fromBase64, getSodium, toBase64, toHex } from './sodium.js';

/** An Ed25519 identity: sites and the coordinator sign with it; its public key is pinned by peers. */
export interface IdentityKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export async function generateIdentity(): Promise<IdentityKeyPair> {
  const sodium = await getSodium();
  const { publicKey, privateKey } = sodium.crypto_sign_keypair();
  return { publicKey, secretKey: privateKey };
}

export async function signDomain(
  secretKey: Uint8Array,
  domain: string,
  ...parts: (string | Uint8Array)[]
): Promise<string> {
  const sodium = await getSodium();
  return toBase64(sodium.crypto_sign_detached(domainMessage(domain, ...parts), secretKey));
}

/** True only for a well-formed signature by `publicKey` over exactly these parts. Never throws. */
export async function verifyDomain(
  publicKey: Uint8Array,
  signature: string,
  domain: string,
  ...parts: (string | Uint8Array)[]
): Promise<boolean> {
  const sodium = await getSodium();
  try {
    const bytes = fromBase64(signature);
    if (bytes.length !== sodium.crypto_sign_BYTES || publicKey.length !== sodium.crypto_sign_PUBLICKEYBYTES)
      return false;
    return sodium.crypto_sign_verify_detached(bytes, domainMessage(domain, ...parts), publicKey);
  } catch {
    return false;
  }
}

/**
 * A key's fingerprint for people to compare out of band: BLAKE2b-256 of the key, first 16 bytes, as
 * eight groups of four hex digits ("3f2a 9c01 …").
 */
export async function keyFingerprint(publicKey: Uint8Array): Promise<string> {
  const sodium = await getSodium();
  const digest = sodium.crypto_generichash(32, domainMessage('cohort/fingerprint/v1', publicKey), null);
  return toHex(digest.subarray(0, 16)).match(/.{4}/g)!.join(' ');
}

export { fromBase64 as decodeKey, toBase64 as encodeKey };
