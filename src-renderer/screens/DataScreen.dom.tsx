import { useEffect, useState } from 'react';
import type { DataCounts } from '../../core/data/site-data-api.js';
import { siteApi } from '../api/site-api-client.dom.js';
import { useSiteEvents } from '../api/use-site-events.dom.js';
import { CountsCard } from './data/CountsCard.dom.js';
import { ImportCard } from './data/ImportCard.dom.js';
import { ImportHistory } from './data/ImportHistory.dom.js';
import { RecordBrowser } from './data/RecordBrowser.dom.js';

/** The site's own records: what is stored, how to add more, and what each import did. */
export function DataScreen() {
  const [counts, setCounts] = useState<DataCounts>();
  const [error, setError] = useState<string>();
  // Bumped whenever an import ends (from this window or another), so every panel reloads.
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    siteApi.invoke('data.counts', undefined).then(
      (result) => {
        setCounts(result);
        setError(undefined);
      },
      (caught: Error) => setError(caught.message),
    );
  }, [generation]);

  useSiteEvents((event) => {
    if (event.type === 'import' && ['completed', 'failed', 'cancelled'].includes(event.job.state))
      setGeneration((n) => n + 1);
  });

  return (
    <div className="stack">
      <p className="lead">
        Records stay in this site’s local database. Training reads them here; they are never uploaded.
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <CountsCard counts={counts} />
      <ImportCard />
      <RecordBrowser counts={counts} refresh={generation} />
      <ImportHistory refresh={generation} />
    </div>
  );
}
