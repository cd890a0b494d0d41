import type { AdminInvitation, AdminStatus } from '../../core/protocol/admin.js';

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

export const adminApi = {
  status: () => call<AdminStatus>('GET', '/v1/admin/status'),
  invite: (siteName: string, expiresInHours: number) =>
    call<AdminInvitation>('POST', '/v1/admin/invitations', { siteName, expiresInHours }),
};
