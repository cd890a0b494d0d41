import type {
  SiteApiChannel,
  SiteApiClient,
  SiteApiInput,
  SiteApiOutput,
  SiteEvent,
} from '../../core/site-api/contract.js';

/** The preload bridge's shape inside Electron (see src-main/electron/bridge.preload.ts). */
declare global {
  interface Window {
    cohortSiteApi?: SiteApiClient;
  }
}

/** An error from the agent, carrying its message for the UI to show as is. */
export class SiteApiCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'cohort.launchToken';

/**
 * Headless mode: the agent prints a URL whose fragment holds the per-launch token. Keep it for this tab
 * only and take it out of the address bar so it is not bookmarked or shared by accident.
 */
function takeLaunchToken(): string {
  const match = /(?:^#|&)token=([A-Za-z0-9_-]+)/.exec(window.location.hash);
  if (match?.[1]) {
    sessionStorage.setItem(TOKEN_KEY, match[1]);
    history.replaceState(null, '', window.location.pathname + window.location.search);
    return match[1];
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

function httpClient(): SiteApiClient {
  const token = takeLaunchToken();
  const listeners = new Set<(event: SiteEvent) => void>();
  let socket: WebSocket | undefined;
  let retry: number | undefined;

  const connectEvents = () => {
    const ws = new WebSocket(`ws://${window.location.host}/api/events`);
    socket = ws;
    ws.onopen = () => ws.send(JSON.stringify({ token }));
    ws.onmessage = (message) => {
      const event = JSON.parse(String(message.data)) as SiteEvent;
      for (const listener of listeners) listener(event);
    };
    ws.onclose = (close) => {
      socket = undefined;
      // A refused token stays refused: the page says so (status.get fails the same way), retrying cannot help.
      if (close.code === 4401) return;
      // The agent itself went away (or restarted): tell the UI, then keep trying.
      for (const listener of listeners)
        listener({
          type: 'log',
          at: new Date().toISOString(),
          level: 'error',
          message: 'lost contact with the site agent',
        });
      if (listeners.size > 0) retry = window.setTimeout(connectEvents, 2000);
    };
  };

  return {
    async invoke<C extends SiteApiChannel>(channel: C, input: SiteApiInput<C>): Promise<SiteApiOutput<C>> {
      let response: Response;
      try {
        response = await fetch(`/api/${channel}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ input }),
        });
      } catch {
        throw new SiteApiCallError('unreachable', 'the site agent is not reachable (is it still running?)');
      }
      const body = (await response.json().catch(() => ({}))) as {
        result?: SiteApiOutput<C>;
        error?: { code: string; message: string };
      };
      if (!response.ok || body.error)
        throw new SiteApiCallError(
          body.error?.code ?? 'error',
          body.error?.message ?? `HTTP ${response.status}`,
        );
      return body.result as SiteApiOutput<C>;
    },
    subscribe(listener) {
      listeners.add(listener);
      if (!socket) connectEvents();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) {
          window.clearTimeout(retry);
          socket?.close();
        }
      };
    },
  };
}

/** The same renderer code runs in Electron (preload bridge) and in a browser (loopback HTTP). */
export const siteApi: SiteApiClient = window.cohortSiteApi ?? httpClient();
