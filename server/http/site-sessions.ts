import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { CLOSE_CODES, CONTROL_FRAME_BYTES } from '../../core/protocol/session.js';
import { TokenBucket, type RateLimit } from './limits.js';

export interface SiteSession {
  siteId: string;
  socket: WebSocket;
  connectedAt: string;
  remoteAddress: string;
}

/**
 * Sets the largest message `socket` accepts from now on. `ws` fixes the limit per server and has no
 * public setter, but checks it against each frame's declared length as the header arrives, before
 * buffering anything; its receiver's limit is what must change when a connection earns more trust.
 * Throws if `ws` no longer has that field (a test covers it), rather than silently leaving the limit.
 */
export function setFrameLimit(socket: WebSocket, bytes: number): void {
  const receiver = (socket as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (!receiver || typeof receiver._maxPayload !== 'number')
    throw new Error('this version of ws has no per-connection frame limit to set');
  receiver._maxPayload = bytes;
}

/**
 * The authenticated site connections of a running coordinator. One session per site: a new connection
 * from the same site replaces the old one (the old one is usually a half-dead socket after a network
 * change).
 */
export class SiteSessions extends EventEmitter<{
  connected: [SiteSession];
  disconnected: [string];
  frame: [string, Uint8Array];
  /** A round message from the site was refused (and why). */
  rejected: [SiteSession, string];
  /** The site sent invalid messages past the allowance and was disconnected. */
  abusive: [SiteSession];
}> {
  private readonly sessions = new Map<string, SiteSession & { allowance: TokenBucket }>();

  /** `invalidFrames`: how many invalid round messages a session may send before it is closed. */
  constructor(private readonly invalidFrames: RateLimit = { perSecond: 1, burst: 100 }) {
    super();
  }

  add(session: SiteSession): void {
    const previous = this.sessions.get(session.siteId);
    setFrameLimit(session.socket, CONTROL_FRAME_BYTES);
    this.sessions.set(session.siteId, { ...session, allowance: new TokenBucket(this.invalidFrames) });
    if (previous)
      previous.socket.close(CLOSE_CODES.replaced, 'replaced by a newer connection from the same site');
    this.emit('connected', session);
  }

  /** Forgets `socket` if it is still the site's current session. */
  remove(siteId: string, socket: WebSocket): void {
    if (this.sessions.get(siteId)?.socket !== socket) return;
    this.sessions.delete(siteId);
    this.emit('disconnected', siteId);
  }

  /** Sends a binary frame to a connected site; returns false when the site is not connected. */
  send(siteId: string, frame: Uint8Array): boolean {
    const session = this.sessions.get(siteId);
    if (!session || session.socket.readyState !== session.socket.OPEN) return false;
    session.socket.send(frame);
    return true;
  }

  /**
   * The largest round message the site may send now: `bytes` while a stage that carries its vector is
   * open, the control limit otherwise.
   */
  setFrameLimit(siteId: string, bytes: number): void {
    const session = this.sessions.get(siteId);
    if (session) setFrameLimit(session.socket, bytes);
  }

  /**
   * Records that a message from the site was refused. Past the allowance the session is closed (a site
   * that keeps violating the protocol is faulty or hostile, and each message costs a decode).
   */
  reject(siteId: string, reason: string): void {
    const session = this.sessions.get(siteId);
    if (!session) return;
    this.emit('rejected', session, reason);
    if (session.allowance.take()) return;
    this.remove(siteId, session.socket);
    session.socket.close(CLOSE_CODES.protocolError, 'too many invalid messages');
    this.emit('abusive', session);
  }

  get(siteId: string): SiteSession | undefined {
    return this.sessions.get(siteId);
  }

  connectedIds(): string[] {
    return [...this.sessions.keys()];
  }

  /** Closes the site's session, if it has one (a revoked site). */
  close(siteId: string, code: number, reason: string): void {
    const session = this.sessions.get(siteId);
    if (!session) return;
    this.remove(siteId, session.socket);
    session.socket.close(code, reason);
  }

  closeAll(code: number, reason: string): void {
    for (const session of this.sessions.values()) session.socket.close(code, reason);
  }
}
