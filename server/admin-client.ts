import { readFileSync } from 'node:fs';
import { CliError } from '../core/cli/errors.js';
import {
  apiErrorMessage,
  requestJson,
  streamJsonLines,
  type CertificatePin,
} from '../core/net/pinned-https.node.js';
import { loadCoordinatorConfig, readListeningUrl } from './data-dir.js';

/** What the admin commands' `--help` says about `--url`. */
export const URL_HELP = `--url overrides where the coordinator is reached; by default the address that 'server start' on
this data directory listens on (it records it in DIR/listening.json while it runs), else the public URL.`;

/**
 * How the `cohort server …` commands talk to a running coordinator: its own admin API over TLS pinned to
 * its own certificate, with the admin token from the data directory.
 */
export class AdminClient {
  private readonly pin: CertificatePin;
  private readonly token: string;
  readonly url: string;

  constructor(
    readonly command: string,
    dataDir: string,
    url?: string,
  ) {
    const { paths, config } = loadCoordinatorConfig(dataDir);
    this.url = url ?? readListeningUrl(paths) ?? config.publicUrl;
    this.pin = {
      certificatePem: readFileSync(paths.tlsCertificate, 'utf8'),
      fingerprint: config.certificateFingerprint,
    };
    this.token = readFileSync(paths.adminToken, 'utf8').trim();
  }

  async get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  /** POSTs and hands each streamed JSON line to `onEvent` until the coordinator ends the stream. */
  async stream(path: string, body: unknown, onEvent: (event: unknown) => void): Promise<void> {
    let result;
    try {
      result = await streamJsonLines(
        `${this.url}${path}`,
        { pin: this.pin, body, headers: this.headers() },
        onEvent,
      );
    } catch (error) {
      throw new CliError(`${this.command}: ${(error as Error).message}`);
    }
    if (result.error) throw new CliError(`${this.command}: ${result.error}`);
  }

  private headers() {
    return { authorization: `Bearer ${this.token}` };
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response;
    try {
      response = await requestJson(`${this.url}${path}`, {
        pin: this.pin,
        method,
        headers: this.headers(),
        ...(body === undefined ? {} : { body }),
      });
    } catch (error) {
      throw new CliError(`${this.command}: ${(error as Error).message}`);
    }
    if (response.status !== 200) throw new CliError(`${this.command}: ${apiErrorMessage(response)}`);
    return response.body as T;
  }
}
