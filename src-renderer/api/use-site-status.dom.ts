import { useEffect, useState } from 'react';
import type { SiteEvent, SiteStatus } from '../../core/site-api/contract.js';
import { siteApi } from './site-api-client.dom.js';

export interface LogLine {
  at: string;
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** Live site status and recent log lines, from the agent's event stream. */
export function useSiteStatus(): {
  status: SiteStatus | undefined;
  logs: LogLine[];
  setStatus: (status: SiteStatus) => void;
} {
  const [status, setStatus] = useState<SiteStatus>();
  const [logs, setLogs] = useState<LogLine[]>([]);
  useEffect(() => {
    const unsubscribe = siteApi.subscribe((event: SiteEvent) => {
      if (event.type === 'status') setStatus(event.status);
      else setLogs((previous) => [event, ...previous].slice(0, 50));
    });
    siteApi.invoke('status.get', undefined).then(setStatus, () => undefined);
    return unsubscribe;
  }, []);
  return { status, logs, setStatus };
}
