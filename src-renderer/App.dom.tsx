import { useHashRoute } from './api/use-hash-route.dom.js';
import { useSiteStatus } from './api/use-site-status.dom.js';
import type { ConnectionState } from '../core/site-api/contract.js';
import { NavIcon } from './components/NavIcon.dom.js';
import { describeRoundPhase } from './round-phase.dom.js';
import { ConnectionScreen } from './screens/ConnectionScreen.dom.js';
import { DataScreen } from './screens/DataScreen.dom.js';
import { EnrollScreen } from './screens/EnrollScreen.dom.js';
import { PrivacyScreen } from './screens/PrivacyScreen.dom.js';
import { TrainingScreen } from './screens/TrainingScreen.dom.js';

const ROUTES = ['overview', 'data', 'training', 'privacy'] as const;
type Route = (typeof ROUTES)[number];

const NAV: Record<Route, { label: string; title: string }> = {
  overview: { label: 'Overview', title: 'Overview' },
  data: { label: 'Data', title: 'Site data' },
  training: { label: 'Training & rounds', title: 'Federated training' },
  privacy: { label: 'Privacy & audit', title: 'Privacy and audit' },
};

export function App() {
  const { status, failure, logs, round, setStatus } = useSiteStatus();
  const [route, go] = useHashRoute(ROUTES, 'overview');
  const enrolled = Boolean(status?.site);
  const roundRunning = round !== undefined && describeRoundPhase(round.phase).outcome === null;

  const screen = () => {
    if (!status && failure)
      return (
        <p className="error" role="alert" data-testid="agent-failure">
          {failure}
        </p>
      );
    if (!status)
      return (
        <p className="muted" data-testid="loading">
          Contacting the site agent…
        </p>
      );
    switch (route) {
      case 'data':
        return <DataScreen />;
      case 'training':
        return enrolled ? (
          <TrainingScreen status={status} round={round} />
        ) : (
          <NotEnrolled what="Federated training" onEnroll={() => go('overview')} />
        );
      case 'privacy':
        return <PrivacyScreen />;
      default:
        return status.site ? (
          <ConnectionScreen status={status} logs={logs} />
        ) : (
          <EnrollScreen onEnrolled={setStatus} />
        );
    }
  };

  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ◎
          </span>{' '}
          Cohort
        </div>
        <div className="topbar-site">
          {status?.site && (
            <>
              <span>{status.site.name}</span>
              <ConnectionBadgeCompact state={status.connection.state} />
            </>
          )}
        </div>
      </header>
      <div className="shell">
        <nav className="sidebar" aria-label="Sections">
          <ul>
            {ROUTES.map((name) => (
              <li key={name}>
                <a
                  href={`#/${name}`}
                  className={route === name ? 'active' : ''}
                  aria-current={route === name ? 'page' : undefined}
                  onClick={(event) => {
                    event.preventDefault();
                    go(name);
                  }}
                  data-testid={`nav-${name}`}
                >
                  <NavIcon name={name} />
                  {NAV[name].label}
                  {name === 'training' && roundRunning && (
                    <span className="nav-live" title="A round is running">
                      <span className="visually-hidden">(round running)</span>
                    </span>
                  )}
                </a>
              </li>
            ))}
          </ul>
          <p className="sidebar-note">Records stay on this computer. Only masked updates leave it.</p>
        </nav>
        <main>
          <h1 className="screen-title">{NAV[route].title}</h1>
          {screen()}
        </main>
      </div>
    </div>
  );
}

/** The connection at a glance in the top bar (the Overview page says it in words). */
function ConnectionBadgeCompact({ state }: { state: ConnectionState }) {
  return (
    <span className={`topbar-state topbar-state-${state}`} aria-hidden="true" title={`Coordinator: ${state}`}>
      <span className="badge-dot" />
    </span>
  );
}

function NotEnrolled({ what, onEnroll }: { what: string; onEnroll: () => void }) {
  return (
    <section className="card" data-testid="not-enrolled">
      <h2>{what} needs a coordinator</h2>
      <p className="muted">
        This site is not enrolled with a coordinator yet. Paste your invitation link on the Overview page; you
        can import data before that.
      </p>
      <button type="button" onClick={onEnroll}>
        Go to enrollment
      </button>
    </section>
  );
}
