import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { signDomain, type IdentityKeyPair } from '../../core/crypto/identity.js';
import {
  describeConnectionError,
  pinnedTlsOptions,
  PinMismatchError,
} from '../../core/net/pinned-https.node.js';
import {
  CLOSE_CODES,
  MAX_WS_MESSAGE_BYTES,
  WS_AUTH_DOMAIN,
  coordinatorMessageSchema,
  type CoordinatorMessage,
  type RosterDelta,
  type RosterSite,
} from '../../core/protocol/session.js';
import type { ConnectionState } from '../../core/site-api/contract.js';
import type { EnrollmentState } from '../agent/site-data-dir.js';

export interface ConnectionStatus {
  state: Exclude<ConnectionState, 'not-enrolled'>;
  since: string;
  detail: string | null;
  nextRetryAt: string | null;
}

export interface ReconnectPolicy {
  initialMs: number;
  maxMs: number;
}

export type RosterEntry = RosterSite;

const refusalReasons: Record<number, string> = {
  [CLOSE_CODES.authFailed]: 'the coordinator refused this site: signature verification failed',
  [CLOSE_CODES.unknownSite]: 'the coordinator does not know this site (it may have been revoked)',
  [CLOSE_CODES.protocolError]: 'the coordinator reported a protocol error',
};

/**
 * The site's one outbound connection to its coordinator (hospital firewalls allow outbound only). It
 * authenticates by signing the coordinator's challenge, keeps the connection alive, and reconnects with
 * capped exponential backoff and jitter whenever it drops.
 */
/** Every message this site sends, for the audit log: what kind, and the exact bytes. */
export interface SentMessage {
  kind: string;
  bytes: Uint8Array;
}

export class CoordinatorConnection extends EventEmitter<{
  status: [ConnectionStatus];
  roster: [RosterEntry[]];
  frame: [Uint8Array];
  sent: [SentMessage];
}> {
  private socket: WebSocket | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = true;
  private announcedRoster = new Map<string, string>();
  private announcedNames = new Map<string, string>();
  /** The version of the roster above (0: none yet); kept across reconnections, and asked from in the hello. */
  private rosterVersion = 0;
  private current: ConnectionStatus = {
    state: 'disconnected',
    since: new Date().toISOString(),
    detail: null,
    nextRetryAt: null,
  };

  constructor(
    private readonly enrollment: EnrollmentState,
    private readonly identity: IdentityKeyPair,
    private readonly software: string,
    private readonly reconnect: ReconnectPolicy = { initialMs: 500, maxMs: 10_000 },
  ) {
    super();
  }

  get status(): ConnectionStatus {
    return this.current;
  }

  /** The enrolled sites and their identity keys (base64url) as the coordinator last announced them. */
  get roster(): ReadonlyMap<string, string> {
    return this.announcedRoster;
  }

  get rosterNames(): ReadonlyMap<string, string> {
    return this.announcedNames;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.socket?.close(1000, 'site agent stopping');
    this.socket = undefined;
    this.setStatus('disconnected', 'stopped', null);
  }

  /** Sends a binary round frame if connected; returns whether it was sent. */
  sendFrame(kind: string, frame: Uint8Array): boolean {
    if (this.current.state !== 'connected' || !this.socket) return false;
    this.socket.send(frame);
    this.emit('sent', { kind, bytes: frame });
    return true;
  }

  private sendText(kind: string, socket: WebSocket, message: unknown): void {
    const text = JSON.stringify(message);
    socket.send(text);
    this.emit('sent', { kind, bytes: new TextEncoder().encode(text) });
  }

  private setStatus(
    state: ConnectionStatus['state'],
    detail: string | null,
    nextRetryAt: string | null,
  ): void {
    const unchanged =
      this.current.state === state &&
      this.current.detail === detail &&
      this.current.nextRetryAt === nextRetryAt;
    if (unchanged) return;
    this.current = {
      state,
      since: this.current.state === state ? this.current.since : new Date().toISOString(),
      detail,
      nextRetryAt,
    };
    this.emit('status', this.current);
  }

  private connect(): void {
    const url = this.enrollment.coordinatorUrl;
    const pin = {
      certificatePem: this.enrollment.certificatePem,
      fingerprint: this.enrollment.certificateFingerprint,
    };
    this.setStatus('connecting', this.current.detail, null);
    const socket = new WebSocket(`${url.replace(/^https:/, 'wss:')}/v1/ws`, {
      // ws hands these to https.request unchanged; its typings describe checkServerIdentity wrongly.
      ...(pinnedTlsOptions(pin, url) as unknown as WebSocket.ClientOptions),
      maxPayload: MAX_WS_MESSAGE_BYTES,
      handshakeTimeout: 10_000,
    });
    this.socket = socket;
    let failure: string | null = null;
    let refused = false;

    socket.on('message', async (data, isBinary) => {
      if (isBinary) {
        if (this.current.state !== 'connected')
          return socket.close(CLOSE_CODES.protocolError, 'round frame before welcome');
        const bytes = Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.isBuffer(data)
            ? data
            : Buffer.from(data);
        return this.emit('frame', new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      }
      let message: CoordinatorMessage;
      try {
        const parsed = coordinatorMessageSchema.safeParse(JSON.parse(data.toString()));
        if (!parsed.success) return socket.close(CLOSE_CODES.protocolError, 'unknown message');
        message = parsed.data;
      } catch {
        return socket.close(CLOSE_CODES.protocolError, 'unparseable message');
      }
      if (message.type === 'challenge') {
        const signature = await signDomain(
          this.identity.secretKey,
          WS_AUTH_DOMAIN,
          message.nonce,
          this.enrollment.siteId,
          this.enrollment.certificateFingerprint,
        );
        this.sendText('hello', socket, {
          type: 'hello',
          siteId: this.enrollment.siteId,
          signature,
          software: this.software,
          rosterVersion: this.rosterVersion,
        });
      } else if (message.type === 'welcome') {
        this.attempt = 0;
        this.setStatus('connected', null, null);
      } else this.applyRosterDelta(message);
    });
    socket.on('error', (error) => {
      const described = describeConnectionError(error, url, pin);
      failure = described.message;
      refused = described instanceof PinMismatchError;
    });
    socket.on('close', (code, reason) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      if (this.stopped) return;
      const refusal = refusalReasons[code];
      if (refusal) {
        refused = true;
        failure = reason.length > 0 ? `${refusal} (${reason.toString()})` : refusal;
      } else if (!failure) {
        failure =
          code === CLOSE_CODES.shuttingDown
            ? 'the coordinator shut down'
            : 'the connection to the coordinator closed';
      }
      this.scheduleRetry(refused ? 'refused' : 'disconnected', failure);
    });
  }

  /**
   * Applies roster changes in order. A delta from 0 is a whole roster (the coordinator's store was reset);
   * one that ends at or before the version held is already applied (it crossed the catch-up).
   */
  private applyRosterDelta(delta: RosterDelta): void {
    if (delta.from !== 0 && delta.to <= this.rosterVersion) return;
    if (delta.from === 0) {
      this.announcedRoster = new Map();
      this.announcedNames = new Map();
    } else if (delta.from !== this.rosterVersion) {
      // A gap cannot happen on one ordered connection; reconnecting asks again from the version held.
      return this.socket?.close(4000, 'roster changes out of order; reconnecting');
    }
    for (const { change, site } of delta.changes) {
      if (change === 'added') {
        this.announcedRoster.set(site.id, site.identityPublicKey);
        this.announcedNames.set(site.id, site.name);
      } else {
        this.announcedRoster.delete(site.id);
        this.announcedNames.delete(site.id);
      }
    }
    this.rosterVersion = delta.to;
    this.emit(
      'roster',
      [...this.announcedRoster].map(([id, identityPublicKey]) => ({
        id,
        name: this.announcedNames.get(id) ?? id,
        identityPublicKey,
      })),
    );
  }

  private scheduleRetry(state: 'refused' | 'disconnected', detail: string): void {
    // Refusals are not fixed by hammering the coordinator: retry those at the slowest pace.
    const base =
      state === 'refused'
        ? this.reconnect.maxMs
        : Math.min(this.reconnect.maxMs, this.reconnect.initialMs * 2 ** this.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt++;
    this.setStatus(state, detail, new Date(Date.now() + delay).toISOString());
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) this.connect();
    }, delay);
  }
}
