import { useCallback, useEffect, useState } from 'react';
import type { FederationView } from '../../core/site-api/contract.js';
import { siteApi } from './site-api-client.dom.js';
import { useSiteEvents } from './use-site-events.dom.js';

/** Round phases after which the stored view has changed (a round row was written or closed). */
const RELOAD_PHASES = new Set(['joined', 'declined', 'completed', 'dropped', 'aborted', 'left']);

/**
 * The site's federation view (`federation.get`), reloaded whenever the agent reports something that
 * changes it: a round row written or closed, a new version, a roster announcement.
 */
export function useFederationView() {
  const [view, setView] = useState<FederationView>();
  const [error, setError] = useState<string>();
  const load = useCallback(
    () =>
      siteApi.invoke('federation.get', undefined).then(
        (next) => {
          setView(next);
          setError(undefined);
        },
        (caught: Error) => setError(caught.message),
      ),
    [],
  );
  useEffect(() => {
    void load();
  }, [load]);
  useSiteEvents((event) => {
    if (event.type === 'status') return void load();
    if (event.type !== 'federation') return;
    const federationEvent = event.event;
    if (federationEvent.type === 'round') {
      if (RELOAD_PHASES.has(federationEvent.phase)) void load();
    } else if (federationEvent.type !== 'log') void load();
  });
  return { view, setView, error, setError, load };
}
