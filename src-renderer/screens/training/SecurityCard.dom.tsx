import type { FederationSecurity } from '../../../core/site-api/contract.js';
import { formatDateTime, shortHash } from '../../format.dom.js';

type Pending = FederationSecurity['pending'][number];
type ConfigJson = Record<string, unknown>;

const show = (value: unknown) => (value === undefined ? '(default)' : JSON.stringify(value));

/** The fields of a configuration that decide what leaves this site, as one line each. */
function configLines(config: ConfigJson): [string, string][] {
  const adapter = (config.adapter ?? {}) as Record<string, { enabled: boolean; shared: boolean }>;
  const secure = (config.secure ?? {}) as Record<string, unknown>;
  const strategy = (config.strategy ?? {}) as { kind?: string };
  const parts = Object.entries(adapter)
    .filter(([, part]) => part.enabled)
    .map(([name, part]) => `${name} (${part.shared ? 'shared' : 'stays here'})`);
  return [
    ['Adapter parts', parts.join(', ') || 'none'],
    ['Secure aggregation', secure.enabled ? 'on' : 'OFF: updates in the clear'],
    ['Threshold', show(secure.threshold)],
    ['Neighbourhood', show(secure.neighbours)],
    ['Least sites', show(config.minSites)],
    ['Strategy', strategy.kind ?? '?'],
    ['Answers', `${Array.isArray(config.answers) ? config.answers.length : 0}`],
  ];
}

function PendingChange({
  pending,
  busy,
  onApprove,
}: {
  pending: Pending;
  busy: boolean;
  onApprove: (federationId: string, configHash: string) => void;
}) {
  const blocked = pending.policyProblems.length > 0;
  return (
    <div className="stack" data-testid="config-pending" data-federation={pending.federationId}>
      <p className="small">
        <strong>{pending.changes ? 'Changed configuration' : 'First configuration'}</strong> of{' '}
        <strong>{pending.federationId}</strong>, <code>{shortHash(pending.configHash)}</code>, offered{' '}
        {formatDateTime(pending.receivedAt)}. Rounds are declined until you approve it.
      </p>
      <table className="table compact" data-testid="config-diff">
        <thead>
          <tr>
            <th>Field</th>
            <th>{pending.changes ? 'Approved' : ''}</th>
            <th>Offered</th>
          </tr>
        </thead>
        <tbody>
          {pending.changes
            ? pending.changes.map((change) => (
                <tr key={change.field} className={change.weakens ? 'row-bad' : undefined}>
                  <td>
                    {change.field}
                    {change.weakens && <span className="pill pill-bad">weakens security</span>}
                  </td>
                  <td>{show(change.approved)}</td>
                  <td>{show(change.offered)}</td>
                </tr>
              ))
            : configLines(pending.config).map(([field, value]) => (
                <tr key={field}>
                  <td>{field}</td>
                  <td />
                  <td>{value}</td>
                </tr>
              ))}
        </tbody>
      </table>
      {blocked && (
        <ul className="error small" data-testid="config-policy-problems">
          {pending.policyProblems.map((problem) => (
            <li key={problem}>Below this site’s policy: {problem}</li>
          ))}
        </ul>
      )}
      <div className="row">
        <button
          type="button"
          disabled={busy || blocked}
          onClick={() => onApprove(pending.federationId, pending.configHash)}
          data-testid="config-approve"
        >
          Approve this configuration
        </button>
      </div>
    </div>
  );
}

/**
 * What protects this site from its own coordinator: its security policy, the federation configuration
 * its operator approved (pinned by hash), a changed one awaiting approval field by field, and what the
 * site declined and why. See src-main/federation/SECURITY.md.
 */
export function SecurityCard({
  security,
  busy,
  onApprove,
}: {
  security: FederationSecurity;
  busy: boolean;
  onApprove: (federationId: string, configHash: string) => void;
}) {
  const { policy } = security;
  return (
    <section className="card" aria-labelledby="security-heading" data-testid="security">
      <div className="card-head">
        <h2 id="security-heading">Security policy and approved configuration</h2>
        {security.pending.length > 0 && (
          <span className="pill pill-warn" data-testid="config-pending-count">
            {security.pending.length} awaiting approval
          </span>
        )}
      </div>
      {security.pending.map((pending) => (
        <PendingChange key={pending.federationId} pending={pending} busy={busy} onApprove={onApprove} />
      ))}
      <table className="table compact" data-testid="security-policy">
        <tbody>
          <tr>
            <td>Secure aggregation</td>
            <td>{policy.secureRequired ? 'required' : 'not required (insecure mode, benchmarks only)'}</td>
          </tr>
          <tr>
            <td>Least threshold</td>
            <td>
              more than {policy.minThreshold.numerator}/{policy.minThreshold.denominator} of the roster, and a
              strict majority
            </td>
          </tr>
          <tr>
            <td>Least SecAgg+ neighbourhood</td>
            <td>{policy.minNeighbours} sites</td>
          </tr>
          <tr>
            <td>Least sites per round</td>
            <td>{policy.minSites}</td>
          </tr>
          <tr>
            <td>Configuration changes</td>
            <td>
              {policy.autoAcceptConfig
                ? 'approved automatically if no security field weakens'
                : 'need your approval'}
            </td>
          </tr>
        </tbody>
      </table>
      <p className="muted small">
        Set at this site only (<code>cohort site federation policy</code>); the coordinator cannot change it.
      </p>
      {security.pinned.map((pinned) => (
        <details key={pinned.federationId} className="approved" data-testid="config-pinned">
          <summary>
            Approved configuration of {pinned.federationId}: <code>{shortHash(pinned.configHash)}</code> (
            {pinned.approvedBy === 'operator' ? 'by you' : 'auto-accepted'},{' '}
            {formatDateTime(pinned.approvedAt)})
          </summary>
          <table className="table compact">
            <tbody>
              {configLines(pinned.config).map(([field, value]) => (
                <tr key={field}>
                  <td>{field}</td>
                  <td>{value}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ))}
      {security.declines.length > 0 && (
        <details className="approved" data-testid="declines">
          <summary>Recent declines ({security.declines.length})</summary>
          <ul className="small">
            {security.declines.slice(0, 10).map((decline, index) => (
              <li key={`${decline.at}-${index}`}>
                {formatDateTime(decline.at)} · {decline.federationId}
                {decline.round !== null ? ` round ${decline.round}` : ''}
                {decline.version !== null ? ` version ${decline.version}` : ''}: {decline.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}
