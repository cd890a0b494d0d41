import { existsSync } from 'node:fs';
import {
  decodeKey,
  encodeKey,
  generateIdentity,
  signDomain,
  verifyDomain,
  type IdentityKeyPair,
} from '../../core/crypto/identity.js';
import { readIdentityKeyFile, writeIdentityKeyFile } from '../../core/crypto/key-file.node.js';
import { apiErrorMessage, fetchPinnedCertificate, requestJson } from '../../core/net/pinned-https.node.js';
import {
  ENROLL_ACK_DOMAIN,
  ENROLL_DOMAIN,
  enrollResponseSchema,
  parseEnrollmentLink,
} from '../../core/protocol/enrollment.js';
import type { EnrollmentState, SitePaths } from './site-data-dir.js';

export class EnrollmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnrollmentError';
  }
}

/** The site's identity key, created on first use (mode 0600). */
export async function loadOrCreateIdentity(paths: SitePaths): Promise<IdentityKeyPair> {
  if (existsSync(paths.identityKey)) return readIdentityKeyFile(paths.identityKey);
  const identity = await generateIdentity();
  writeIdentityKeyFile(paths.identityKey, identity);
  return identity;
}

/**
 * Enrolls with the coordinator named in an invitation link:
 * 1. fetch the coordinator's TLS certificate and require the fingerprint the link carries (pin);
 * 2. over that pinned channel, present the one-time token and the site's public key, signed;
 * 3. check the coordinator's signed acknowledgement and pin its identity key.
 * Returns what the site must store; nothing is stored here, so a failure leaves no trace.
 */
export async function enrollWithLink(
  link: string,
  identity: IdentityKeyPair,
  software: string,
  /** Told the exact bytes of the request before they are sent (the site's audit log records them). */
  onSent: (kind: 'enroll', bytes: Uint8Array, coordinatorUrl: string) => void = () => undefined,
): Promise<EnrollmentState> {
  const parsed = parseEnrollmentLink(link);
  const pin = await fetchPinnedCertificate(parsed.coordinatorUrl, parsed.certificateFingerprint);
  const publicKey = encodeKey(identity.publicKey);
  const request = {
    token: parsed.token,
    publicKey,
    signature: await signDomain(identity.secretKey, ENROLL_DOMAIN, parsed.token, publicKey),
    software,
  };
  // requestJson sends JSON.stringify(request): these are its bytes.
  onSent('enroll', Buffer.from(JSON.stringify(request)), parsed.coordinatorUrl);
  const response = await requestJson(`${parsed.coordinatorUrl}/v1/enroll`, { pin, body: request });
  if (response.status !== 200)
    throw new EnrollmentError(`the coordinator refused the enrollment: ${apiErrorMessage(response)}`);
  const body = enrollResponseSchema.safeParse(response.body);
  if (!body.success) throw new EnrollmentError('the coordinator sent a malformed enrollment response');
  const { siteId, siteName, coordinator, signature } = body.data;
  const acknowledged = await verifyDomain(
    decodeKey(coordinator.identityPublicKey),
    signature,
    ENROLL_ACK_DOMAIN,
    siteId,
    siteName,
    publicKey,
  );
  if (!acknowledged)
    throw new EnrollmentError(
      "the coordinator's enrollment acknowledgement is not signed by its identity key",
    );
  return {
    siteId,
    siteName,
    coordinatorUrl: parsed.coordinatorUrl,
    coordinatorName: coordinator.name,
    coordinatorIdentityPublicKey: coordinator.identityPublicKey,
    certificateFingerprint: pin.fingerprint,
    certificatePem: pin.certificatePem,
    enrolledAt: new Date().toISOString(),
  };
}
