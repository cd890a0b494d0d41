import { useSiteStatus } from './api/use-site-status.dom.js';
import { ConnectionScreen } from './screens/ConnectionScreen.dom.js';
import { EnrollScreen } from './screens/EnrollScreen.dom.js';

export function App() {
  const { status, logs, setStatus } = useSiteStatus();
  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ◎
          </span>{' '}
          Cohort
        </div>
        <div className="topbar-site">{status?.site ? status.site.name : ''}</div>
      </header>
      <main>
        {!status ? (
          <p className="muted" data-testid="loading">
            Contacting the site agent…
          </p>
        ) : status.site ? (
          <ConnectionScreen status={status} logs={logs} />
        ) : (
          <EnrollScreen onEnrolled={setStatus} />
        )}
      </main>
    </div>
  );
}
