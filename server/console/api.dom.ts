import type {
  AdminFederationDetail,
  AdminFederationList,
  AdminInvitation,
  AdminRoundEvent,
  AdminStatus,
} from '../../core/protocol/admin.js';
import { JsonLines } from './ndjson.dom.js';

const TOKEN_KEY = 'cohort.adminToken';

export const adminToken = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? '',
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token.trim()),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${adminToken.get()}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : null,
  });
  const json = (await response.json().catch(() => ({}))) as T & { error?: { message: string } };
  if (!response.ok)
    throw new AdminApiError(response.status, json.error?.message ?? `HTTP ${response.status}`);
  return json;
}

/**
 * Runs `count` rounds and hands each streamed event to `onEvent` until the coordinator ends the stream.
 * The rounds go on if this page goes away; `signal` only stops listening.
 */
async function runRounds(
  federationId: string,
  count: number,
  onEvent: (event: AdminRoundEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  const response = await fetch(`/v1/admin/federations/${encodeURIComponent(federationId)}/rounds`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken.get()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ count }),
    signal: signal ?? null,
  });
  if (!response.ok || !response.body) {
    const json = (await response.json().catch(() => ({}))) as { error?: { message: string } };
    throw new AdminApiError(response.status, json.error?.message ?? `HTTP ${response.status}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const lines = new JsonLines<AdminRoundEvent>();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    lines.push(value).forEach(onEvent);
  }
  lines.end().forEach(onEvent);
}

export const adminApi = {
  status: () => call<AdminStatus>('GET', '/v1/admin/status'),
  invite: (siteName: string, expiresInHours: number) =>
    call<AdminInvitation>('POST', '/v1/admin/invitations', { siteName, expiresInHours }),
  federations: () => call<AdminFederationList>('GET', '/v1/admin/federations'),
  federation: (id: string) =>
    call<AdminFederationDetail>('GET', `/v1/admin/federations/${encodeURIComponent(id)}`),
  runRounds,
};
