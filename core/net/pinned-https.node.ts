import { X509Certificate, createHash } from 'node:crypto';
import { request } from 'node:https';
import { connect, type PeerCertificate } from 'node:tls';

/** A coordinator's TLS identity as a site pins it: the certificate and its SHA-256 fingerprint. */
export interface CertificatePin {
  certificatePem: string;
  /** SHA-256 over the DER certificate, lowercase hex. */
  fingerprint: string;
}

export class PinMismatchError extends Error {
  readonly code = 'COHORT_PIN_MISMATCH';
  constructor(url: string, expected: string, actual?: string) {
    super(
      `the server at ${url} presented a TLS certificate that is not the pinned one ` +
        `(expected SHA-256 ${expected.slice(0, 16)}…${actual ? `, got ${actual.slice(0, 16)}…` : ''}); ` +
        'refusing to talk to it — if the coordinator really changed its certificate, enroll again with a new link',
    );
    this.name = 'PinMismatchError';
  }
}

const derFingerprint = (raw: Buffer) => createHash('sha256').update(raw).digest('hex');

/**
 * TLS options that trust exactly the pinned certificate: it is the only trust anchor, and the
 * hostname check is replaced by a fingerprint check (sites reach coordinators by IP as often as by name).
 */
export function pinnedTlsOptions(pin: CertificatePin, url: string) {
  return {
    ca: pin.certificatePem,
    checkServerIdentity: (_host: string, certificate: PeerCertificate) => {
      const actual = derFingerprint(certificate.raw);
      return actual === pin.fingerprint ? undefined : new PinMismatchError(url, pin.fingerprint, actual);
    },
  };
}

const untrustedCertificateCodes = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
]);

/** Turns low-level connection errors into one sentence a site operator can act on. */
export function describeConnectionError(error: unknown, url: string, pin?: CertificatePin): Error {
  if (error instanceof PinMismatchError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (pin && untrustedCertificateCodes.has(code)) return new PinMismatchError(url, pin.fingerprint);
  if (code === 'ECONNREFUSED')
    return new Error(`nothing is listening at ${url} (is the coordinator running?)`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new Error(`cannot resolve the host of ${url}`);
  if (code === 'ETIMEDOUT' || code === 'COHORT_TIMEOUT') return new Error(`${url} did not answer in time`);
  if (code === 'ECONNRESET' || code === 'EPIPE') return new Error(`the connection to ${url} was reset`);
  return new Error(`cannot reach ${url}: ${(error as Error).message}`);
}

/**
 * Fetches the certificate a server presents, without trusting it, and checks it against the
 * fingerprint an enrollment link carries. This is the trust-on-first-use step, made safe by the link.
 */
export function fetchPinnedCertificate(
  url: string,
  expectedFingerprint: string,
  timeoutMs = 10_000,
): Promise<CertificatePin> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: hostname.replace(/^\[|\]$/g, ''),
      port: Number(port || 443),
      rejectUnauthorized: false,
      ...(/^[\d.]+$|:/.test(hostname) ? {} : { servername: hostname }),
    });
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(Object.assign(new Error('timeout'), { code: 'COHORT_TIMEOUT' })),
    );
    socket.once('secureConnect', () => {
      const raw = socket.getPeerCertificate(false).raw;
      socket.end();
      if (!raw) return reject(new Error(`${url} presented no certificate`));
      const fingerprint = derFingerprint(raw);
      if (fingerprint !== expectedFingerprint)
        return reject(new PinMismatchError(url, expectedFingerprint, fingerprint));
      resolve({ fingerprint, certificatePem: new X509Certificate(raw).toString() });
    });
    socket.once('error', (error) => reject(describeConnectionError(error, url)));
  });
}

export interface JsonResponse {
  status: number;
  body: unknown;
}

/** One HTTPS request with a JSON body and response, trusting only the pinned certificate. */
export function requestJson(
  url: string,
  options: {
    pin: CertificatePin;
    method?: string;
    body?: unknown;
    headers?: Record<string, string>;
    timeoutMs?: number;
  },
): Promise<JsonResponse> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? (payload ? 'POST' : 'GET'),
        headers: {
          accept: 'application/json',
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
            : {}),
          ...options.headers,
        },
        ...pinnedTlsOptions(options.pin, url),
        timeout: options.timeoutMs ?? 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // Not JSON: keep the text so the caller can report it.
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'COHORT_TIMEOUT' })));
    req.on('error', (error) => reject(describeConnectionError(error, url, options.pin)));
    req.end(payload);
  });
}

/** The `{error: {message}}` of a /v1 error response, or a generic sentence. */
export function apiErrorMessage(response: JsonResponse): string {
  const body = response.body as { error?: { message?: unknown } } | undefined;
  return typeof body?.error?.message === 'string' ? body.error.message : `unexpected HTTP ${response.status}`;
}

/**
 * A POST whose response is newline-delimited JSON, delivered line by line as it arrives (long-running
 * admin operations such as rounds). Resolves with the HTTP status when the stream ends.
 */
export function streamJsonLines(
  url: string,
  options: { pin: CertificatePin; body: unknown; headers?: Record<string, string> },
  onLine: (value: unknown) => void,
): Promise<{ status: number; error?: string }> {
  const payload = JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(payload)),
          ...options.headers,
        },
        ...pinnedTlsOptions(options.pin, url),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let newline: number;
          while ((newline = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            if (line && status === 200) onLine(JSON.parse(line));
          }
        });
        // The server may die mid-stream: a reset stream must fail the call, not leave it hanging.
        const broken = () =>
          reject(
            describeConnectionError(
              Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
              url,
              options.pin,
            ),
          );
        res.on('error', broken);
        res.on('aborted', broken);
        res.on('close', () => {
          if (!res.complete) broken();
        });
        res.on('end', () => {
          if (status === 200) return resolve({ status });
          let error = `unexpected HTTP ${status}`;
          try {
            error = (JSON.parse(buffered) as { error: { message: string } }).error.message;
          } catch {
            // keep the generic sentence
          }
          resolve({ status, error });
        });
      },
    );
    req.on('error', (error) => reject(describeConnectionError(error, url, options.pin)));
    req.end(payload);
  });
}
