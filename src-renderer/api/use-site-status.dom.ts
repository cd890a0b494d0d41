import { useCallback, useEffect, useState } from 'react';
import type { FederationEvent, SiteEvent, SiteStatus } from '../../core/site-api/contract.js';
import { siteApi } from './site-api-client.dom.js';

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
  useEffect(() => {
    const unsubscribe = siteApi.subscribe((event: SiteEvent) => {
      if (event.type === 'status') setStatus(event.status);
      else if (event.type === 'log') setLogs((previous) => [event, ...previous].slice(0, 50));
      else if (event.type === 'federation' && event.event.type === 'round') setRound(event.event);
    });
    siteApi.invoke('status.get', undefined).then(setStatus, () => undefined);
    return unsubscribe;
  }, [setStatus]);
  return { status, logs, round, setStatus };
}
