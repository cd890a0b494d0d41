import { useState } from 'react';
import type { FederationView } from '../../../core/site-api/contract.js';
import { Fingerprint } from '../../components/Fingerprint.dom.js';

/**
 * Partner sites for secure aggregation. A site the coordinator announces (or one whose key changed)
 * waits here until the operator has compared its fingerprint out of band and approves it.
 */
export function RosterCard({
  roster,
  names,
  busy,
  onApprove,
}: {
  roster: FederationView['roster'];
  names: Map<string, string>;
  busy: boolean;
  onApprove: (siteIds: string[]) => void;
}) {
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const pending = roster.pending;
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  const chosen = pending.filter((site) => selected.has(site.id)).map((site) => site.id);

  return (
    <section className="card" aria-labelledby="roster-approval-heading" data-testid="roster-approval">
      <div className="card-head">
        <h2 id="roster-approval-heading">Partner sites</h2>
        {pending.length > 0 && (
          <span className="pill pill-warn" data-testid="roster-pending-count">
            {pending.length} awaiting approval
          </span>
        )}
      </div>
      {pending.length > 0 ? (
        <>
          <p className="muted small">
            Call each site’s operator and compare the fingerprint they read from their screen with the one
            below. Approve only those that match: this site then exchanges masked updates with them.
          </p>
          <ul className="approval-list">
            {pending.map((site) => (
              <li key={site.id} data-testid="roster-pending-site">
                <label className="checkbox">
                  <input
                    type="checkbox"
                    checked={selected.has(site.id)}
                    onChange={() => toggle(site.id)}
                    aria-label={`Select ${site.name}`}
                  />
                  <span>
                    <strong>{site.name}</strong> <span className="muted small">{site.id}</span>
                    {site.keyChanged && (
                      <span
                        className="pill pill-bad"
                        title="This site was approved with a different key before"
                      >
                        key changed
                      </span>
                    )}
                    <br />
                    <Fingerprint value={site.fingerprint} />
                  </span>
                </label>
              </li>
            ))}
          </ul>
          <div className="row">
            <button
              type="button"
              disabled={busy || chosen.length === 0}
              onClick={() => {
                onApprove(chosen);
                setSelected(new Set());
              }}
              data-testid="roster-approve-selected"
            >
              Approve {chosen.length > 0 ? chosen.length : ''} selected
            </button>
            <button
              type="button"
              className="secondary"
              disabled={busy}
              onClick={() => onApprove(pending.map((site) => site.id))}
              data-testid="roster-approve-all"
            >
              Approve all {pending.length}
            </button>
          </div>
        </>
      ) : (
        <p className="muted small" data-testid="roster-none-pending">
          No partner site awaits approval.
        </p>
      )}
      {roster.approved.length > 0 && (
        <details className="approved">
          <summary>
            {roster.approved.length} approved site{roster.approved.length === 1 ? '' : 's'}
          </summary>
          <table className="table compact">
            <tbody>
              {roster.approved.map((site) => (
                <tr key={site.id}>
                  <td>
                    {names.get(site.id) ?? site.id}
                    {names.has(site.id) && <div className="muted small">{site.id}</div>}
                  </td>
                  <td>
                    <Fingerprint value={site.fingerprint} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </section>
  );
}
