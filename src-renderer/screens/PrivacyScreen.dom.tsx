import { useCallback, useEffect, useRef, useState } from 'react';
import type { AuditPage } from '../../core/site-api/contract.js';
import { siteApi } from '../api/site-api-client.dom.js';
import { useSiteEvents } from '../api/use-site-events.dom.js';
import { Pager } from '../components/Pager.dom.js';
import { formatBytes, formatCount, formatDateTime, shortHash } from '../format.dom.js';

const PAGE = 50;

/** What each kind of outbound message is, in the operator's words. */
const KINDS: Record<string, string> = {
  hello: 'Sign-in: a signature over the coordinator’s challenge',
  'round-join': 'Answer to a round invitation (join or decline)',
  'round-leave': 'Leaving a round',
  advertise: 'Public keys for this round’s secure aggregation',
  'share-keys': 'Key shares, encrypted for each partner site',
  'masked-input': 'The masked model update (only the sum can be unmasked)',
  consistency: 'Signature over the list of sites still in the round',
  unmask: 'Key shares that let the coordinator remove masks from the sum',
  'plain-update': 'UNMASKED model update (insecure baseline federation)',
};

/** "What left this machine": every message this site sent, with its size and fingerprint. */
export function PrivacyScreen() {
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<AuditPage>();
  const [error, setError] = useState<string>();
  const pending = useRef<number | undefined>(undefined);

  const load = useCallback(
    () =>
      siteApi.invoke('audit.list', { offset, limit: PAGE }).then(
        (result) => {
          setPage(result);
          setError(undefined);
        },
        (caught: Error) => setError(caught.message),
      ),
    [offset],
  );
  useEffect(() => {
    void load();
  }, [load]);
  useEffect(() => () => window.clearTimeout(pending.current), []);

  // Messages go out around connection and round events; refresh shortly after them (once per burst).
  useSiteEvents((event) => {
    if (event.type === 'log' || event.type === 'import' || offset !== 0 || pending.current !== undefined)
      return;
    pending.current = window.setTimeout(() => {
      pending.current = undefined;
      void load();
    }, 700);
  });

  return (
    <div className="stack">
      <section className="card explainer" aria-labelledby="privacy-heading">
        <h2 id="privacy-heading">What left this machine</h2>
        <p>
          <strong>Patient records never leave this site</strong> — not the images, not the questions or
          answers, not file names, not counts per organ or per answer.
        </p>
        <p>What this site does send, to the coordinator only, is:</p>
        <ul className="check-list">
          <li>
            model updates and evaluation counts, hidden by secure-aggregation masks that only cancel out in
            the sum over sites;
          </li>
          <li>
            fresh public keys for each round, and key shares encrypted so only one partner site can read each;
          </li>
          <li>signatures that prove messages come from this site;</li>
          <li>protocol metadata: which round, which stage, joining or leaving.</li>
        </ul>
        <p className="muted small">
          Every message is listed below as it was sent: its size and its SHA-256, so an auditor can match it
          with a capture of the network traffic.
        </p>
      </section>

      <section className="card" aria-labelledby="audit-heading" data-testid="audit-log">
        <div className="card-head">
          <h2 id="audit-heading">Outbound messages</h2>
          <button type="button" className="secondary" onClick={() => void load()}>
            Refresh
          </button>
        </div>
        {error && <p className="error">{error}</p>}
        {page && (
          <div className="stats">
            <div className="stat">
              <div className="stat-value" data-testid="audit-total">
                {formatCount(page.total)}
              </div>
              <div className="stat-label">messages sent</div>
            </div>
            <div className="stat">
              <div className="stat-value" data-testid="audit-bytes">
                {formatBytes(page.totalBytes)}
              </div>
              <div className="stat-label">in total</div>
            </div>
          </div>
        )}
        {page && page.entries.length === 0 && (
          <p className="muted" data-testid="audit-empty">
            Nothing has been sent yet.
          </p>
        )}
        {page && page.entries.length > 0 && (
          <div className="table-scroll">
            <table className="table compact audit">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Message</th>
                  <th scope="col">Recipient</th>
                  <th scope="col" className="num">
                    Size
                  </th>
                  <th scope="col">SHA-256</th>
                </tr>
              </thead>
              <tbody>
                {page.entries.map((entry) => (
                  <tr
                    key={entry.id}
                    data-testid="audit-row"
                    data-kind={entry.kind}
                    className={entry.kind === 'plain-update' ? 'row-bad' : undefined}
                  >
                    <td className="nowrap">{formatDateTime(entry.at)}</td>
                    <td>
                      <code className="kind">{entry.kind}</code>
                      <div className="muted small">{KINDS[entry.kind] ?? 'Protocol message'}</div>
                    </td>
                    <td className="small">{entry.recipient}</td>
                    <td className="num nowrap">{formatBytes(entry.bytes)}</td>
                    <td>
                      <code className="fingerprint" title={entry.sha256}>
                        {shortHash(entry.sha256)}
                      </code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {page && page.total > PAGE && (
          <Pager
            offset={offset}
            limit={PAGE}
            shown={page.entries.length}
            total={page.total}
            onChange={setOffset}
            testId="audit-pager"
          />
        )}
      </section>
    </div>
  );
}
