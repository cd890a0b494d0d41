import { z } from 'zod';

/** What an invitation carries: where the coordinator is, the one-time token, and its TLS pin. */
export interface EnrollmentLink {
  coordinatorUrl: string;
  token: string;
  /** SHA-256 of the coordinator's TLS certificate (DER), 64 lowercase hex digits. */
  certificateFingerprint: string;
}

export class EnrollmentLinkError extends Error {
  constructor(message: string) {
    super(`invalid enrollment link: ${message}`);
    this.name = 'EnrollmentLinkError';
  }
}

const LINK_PREFIX = 'cohort://enroll';
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const FINGERPRINT_PATTERN = /^[0-9a-f]{64}$/;

export function formatEnrollmentLink(link: EnrollmentLink): string {
  const query = new URLSearchParams({
    coordinator: link.coordinatorUrl,
    token: link.token,
    fingerprint: link.certificateFingerprint,
  });
  return `${LINK_PREFIX}?${query.toString()}`;
}

/** Parses a pasted link (surrounding whitespace and quotes tolerated) with a precise reason on failure. */
export function parseEnrollmentLink(text: string): EnrollmentLink {
  const trimmed = text.trim().replace(/^['"<]+|['">]+$/g, '');
  if (!trimmed.startsWith(`${LINK_PREFIX}?`))
    throw new EnrollmentLinkError(`it must start with '${LINK_PREFIX}?'`);
  const query = new URLSearchParams(trimmed.slice(LINK_PREFIX.length + 1));
  const coordinator = query.get('coordinator');
  const token = query.get('token');
  const fingerprint = query.get('fingerprint')?.toLowerCase().replace(/:/g, '');
  if (!coordinator) throw new EnrollmentLinkError('the coordinator address is missing');
  let url: URL;
  try {
    url = new URL(coordinator);
  } catch {
    throw new EnrollmentLinkError(`'${coordinator}' is not a URL`);
  }
  if (url.protocol !== 'https:') throw new EnrollmentLinkError('the coordinator address must use https');
  if (!token || !TOKEN_PATTERN.test(token))
    throw new EnrollmentLinkError('the token is missing or malformed');
  if (!fingerprint || !FINGERPRINT_PATTERN.test(fingerprint)) {
    throw new EnrollmentLinkError('the certificate fingerprint is missing or malformed');
  }
  return { coordinatorUrl: url.origin, token, certificateFingerprint: fingerprint };
}

/** Formats a certificate fingerprint for people: "AB:CD:…" as browsers and OpenSSL show it. */
export function displayCertificateFingerprint(hex: string): string {
  return hex.toUpperCase().match(/.{2}/g)!.join(':');
}

const base64Url = z.string().regex(/^[A-Za-z0-9_-]+$/);

export const enrollRequestSchema = z.object({
  token: z.string().regex(TOKEN_PATTERN),
  publicKey: base64Url.length(43),
  /** Proves possession of the identity key, bound to the token: sign(ENROLL_DOMAIN, token, publicKey). */
  signature: base64Url.length(86),
  software: z.string().max(100).optional(),
});
export type EnrollRequest = z.infer<typeof enrollRequestSchema>;

export const enrollResponseSchema = z.object({
  siteId: z.string(),
  siteName: z.string(),
  coordinator: z.object({ name: z.string(), identityPublicKey: base64Url.length(43) }),
  /** The coordinator's identity signs sign(ENROLL_ACK_DOMAIN, siteId, siteName, site publicKey). */
  signature: base64Url.length(86),
});
export type EnrollResponse = z.infer<typeof enrollResponseSchema>;

export const ENROLL_DOMAIN = 'cohort/enroll/v1';
export const ENROLL_ACK_DOMAIN = 'cohort/enroll-ack/v1';

/** Every /v1 error body: a stable code for programs and a sentence for people. */
export const apiErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ApiError = z.infer<typeof apiErrorSchema>;
