import { useCallback, useEffect, useState } from 'react';
import type { FederationEvent, SiteEvent, SiteStatus } from '../../core/site-api/contract.js';
import { SiteApiCallError, siteApi } from './site-api-client.dom.js';

/** What the UI says when the agent refuses the page's launch token (or the address carried none). */
const EXPIRED_LINK_MESSAGE =
  'This link has expired or is incomplete. Open the address printed by `cohort site serve` (the token ' +
  'changes each time the agent starts).';

export interface LogLine {
  at: string;
  level: 'info' | 'warn' | 'error';
  message: string;
}

export type RoundEvent = Extract<FederationEvent, { type: 'round' }>;

/**
 * Live site status, recent log lines and the latest round event, from the agent's event stream. Kept
 * for the whole app (not per screen) so a screen opened later still knows where the running round is.
 */
export function useSiteStatus(): {
  status: SiteStatus | undefined;
  /** Why the first status could not be had; the UI shows it until a status arrives after all. */
  failure: string | undefined;
  logs: LogLine[];
  round: RoundEvent | undefined;
  setStatus: (status: SiteStatus) => void;
} {
  const [status, setLatestStatus] = useState<SiteStatus>();
  // Events and call results arrive on different channels: keep whichever snapshot is newest.
  const setStatus = useCallback(
    (next: SiteStatus) =>
      setLatestStatus((current) => (current && current.revision > next.revision ? current : next)),
    [],
  );
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [round, setRound] = useState<RoundEvent>();
  const [failure, setFailure] = useState<string>();
  useEffect(() => {
    const unsubscribe = siteApi.subscribe((event: SiteEvent) => {
      if (event.type === 'status') setStatus(event.status);
      else if (event.type === 'log') setLogs((previous) => [event, ...previous].slice(0, 50));
      else if (event.type === 'federation' && event.event.type === 'round') setRound(event.event);
    });
    siteApi
      .invoke('status.get', undefined)
      .then(setStatus, (error: Error) =>
        setFailure(
          error instanceof SiteApiCallError && error.code === 'unauthorized'
            ? EXPIRED_LINK_MESSAGE
            : error.message,
        ),
      );
    return unsubscribe;
  }, [setStatus]);
  return { status, failure, logs, round, setStatus };
}
