import { useEffect, useRef } from 'react';
import type { SiteEvent } from '../../core/site-api/contract.js';
import { siteApi } from './site-api-client.dom.js';

/**
 * Calls `listener` with every agent event while the component is mounted. The latest listener is used
 * without resubscribing, so screens can close over their current state.
 */
export function useSiteEvents(listener: (event: SiteEvent) => void): void {
  const latest = useRef(listener);
  useEffect(() => {
    latest.current = listener;
  });
  useEffect(() => siteApi.subscribe((event) => latest.current(event)), []);
}
