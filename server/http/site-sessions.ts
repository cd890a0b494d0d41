import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { CLOSE_CODES } from '../../core/protocol/session.js';

export interface SiteSession {
  siteId: string;
  socket: WebSocket;
  connectedAt: string;
  remoteAddress: string;
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
}> {
  private readonly sessions = new Map<string, SiteSession>();

  add(session: SiteSession): void {
    const previous = this.sessions.get(session.siteId);
    this.sessions.set(session.siteId, session);
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

  get(siteId: string): SiteSession | undefined {
    return this.sessions.get(siteId);
  }

  connectedIds(): string[] {
    return [...this.sessions.keys()];
  }

  closeAll(code: number, reason: string): void {
    for (const session of this.sessions.values()) session.socket.close(code, reason);
  }
}
