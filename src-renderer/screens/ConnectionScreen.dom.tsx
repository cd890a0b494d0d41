import type { SiteStatus } from '../../core/site-api/contract.js';
import { ConnectionBadge } from '../components/ConnectionBadge.dom.js';
import { Fingerprint } from '../components/Fingerprint.dom.js';
import type { LogLine } from '../api/use-site-status.dom.js';
import { ProgressCard } from './overview/ProgressCard.dom.js';

function since(iso: string): string {
  return new Date(iso).toLocaleTimeString();
}

/** Who this site is, which coordinator it trusts, and whether it is connected right now. */
export function ConnectionScreen({ status, logs }: { status: SiteStatus; logs: LogLine[] }) {
  const { site, coordinator, connection, roster } = status;
  return (
    <div className="grid">
      <ProgressCard />
      <section className="card" aria-labelledby="connection-heading">
        <div className="card-head">
          <h2 id="connection-heading">Coordinator</h2>
          <ConnectionBadge state={connection.state} />
        </div>
        {coordinator && (
          <dl>
            <dt>Name</dt>
            <dd data-testid="coordinator-name">{coordinator.name}</dd>
            <dt>Address</dt>
            <dd data-testid="coordinator-url">{coordinator.url}</dd>
            <dt>Identity fingerprint</dt>
            <dd>
              <Fingerprint value={coordinator.identityFingerprint} testId="coordinator-fingerprint" />
            </dd>
            <dt>Certificate (SHA-256)</dt>
            <dd>
              <Fingerprint value={coordinator.certificateFingerprint} />
            </dd>
          </dl>
        )}
        <p className="muted" data-testid="connection-detail">
          {connection.state === 'connected'
            ? `Connected since ${since(connection.since)}.`
            : (connection.detail ?? '')}
          {connection.nextRetryAt && connection.state !== 'connected'
            ? ` Retrying at ${since(connection.nextRetryAt)}.`
            : ''}
        </p>
      </section>

      <section className="card" aria-labelledby="site-heading">
        <h2 id="site-heading">This site</h2>
        {site && (
          <dl>
            <dt>Name</dt>
            <dd data-testid="site-name">{site.name}</dd>
            <dt>Site id</dt>
            <dd>{site.id}</dd>
            <dt>Identity fingerprint</dt>
            <dd>
              <Fingerprint value={site.fingerprint} testId="site-fingerprint" />
            </dd>
          </dl>
        )}
        <p className="muted">
          Read these fingerprints to your coordinator and partner sites over the phone to confirm nobody is in
          between.
        </p>
      </section>

      <section className="card" aria-labelledby="roster-heading">
        <h2 id="roster-heading">Other sites in the federation</h2>
        {roster.length === 0 ? (
          <p className="muted">No other sites announced yet.</p>
        ) : (
          <table className="roster">
            <thead>
              <tr>
                <th>Site</th>
                <th>Identity fingerprint</th>
              </tr>
            </thead>
            <tbody>
              {roster.map((entry) => (
                <tr key={entry.id}>
                  <td>{entry.name}</td>
                  <td>
                    <Fingerprint value={entry.fingerprint} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="card" aria-labelledby="activity-heading">
        <h2 id="activity-heading">Activity</h2>
        {logs.length === 0 ? (
          <p className="muted">Nothing yet.</p>
        ) : (
          <ul className="log">
            {logs.map((line, index) => (
              <li key={`${line.at}-${index}`} className={`log-${line.level}`}>
                <time>{since(line.at)}</time> {line.message}
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
