import type { SiteRoundStatus } from '../../../core/protocol/round-vocabulary.js';
import { Fragment } from 'react';
import type { FederationView } from '../../../core/site-api/contract.js';
import {
  formatBytes,
  formatCount,
  formatDateTime,
  formatDuration,
  formatPercent,
  shortHash,
} from '../../format.dom.js';
import { LockIcon } from '../../components/LockIcon.dom.js';
import { localRoundFigures } from '../../round-phase.dom.js';

type Federation = FederationView['federations'][number];

/** The round history's columns, for a reason row that spans them all. */
const COLUMNS = 11;

const PART_NAMES: Record<string, string> = {
  lora: 'LoRA (attention and MLP)',
  prompt: 'Soft prompt',
  head: 'Answer head',
};

const STRATEGY_NAMES: Record<string, string> = { fedavg: 'FedAvg', fedprox: 'FedProx', fedadam: 'FedAdam' };

const OUTCOME_TONE: Record<SiteRoundStatus, 'ok' | 'info' | 'warn' | 'bad'> = {
  completed: 'ok',
  running: 'info',
  dropped: 'warn',
  aborted: 'warn',
  left: 'bad',
  declined: 'warn',
  interrupted: 'warn',
};

/** One federation: the version this site holds, how it trains, and this site's own record of rounds. */
export function FederationCard({ federation }: { federation: Federation }) {
  const rounds = [...federation.rounds].sort((a, b) => b.round - a.round);
  return (
    <section
      className="card"
      aria-labelledby={`federation-${federation.id}`}
      data-testid="federation"
      data-federation={federation.id}
    >
      <div className="card-head">
        <h2 id={`federation-${federation.id}`}>{federation.name}</h2>
        {federation.secure ? (
          <span className="pill pill-ok" data-testid="federation-secure">
            Secure aggregation
          </span>
        ) : (
          <span
            className="pill pill-bad"
            data-testid="federation-secure"
            title="Updates are visible to the coordinator"
          >
            Insecure baseline: updates not masked
          </span>
        )}
      </div>
      <dl className="facts">
        <dt>Global version</dt>
        <dd data-testid="federation-version">
          v{federation.version}{' '}
          <span className="muted small">received {formatDateTime(federation.receivedAt)}</span>
        </dd>
        <dt>Version hash</dt>
        <dd>
          <code className="fingerprint" title={federation.hash}>
            {shortHash(federation.hash, 16)}
          </code>{' '}
          <span className="muted small">signature checked against the pinned coordinator key</span>
        </dd>
        <dt>Server strategy</dt>
        <dd>{STRATEGY_NAMES[federation.strategy] ?? federation.strategy}</dd>
        <dt>Adapter parts</dt>
        <dd>
          <ul className="parts">
            {federation.parts.map(({ part, shared }) => (
              <li key={part} className={shared ? 'part-shared' : 'part-local'}>
                {PART_NAMES[part] ?? part}
                <span className="small">{shared ? 'shared (masked sum)' : 'stays on this site'}</span>
              </li>
            ))}
          </ul>
        </dd>
        <dt>Federation id</dt>
        <dd className="muted">{federation.id}</dd>
      </dl>

      <h3 className="table-title">
        This site’s rounds{' '}
        <span className="private-note" data-testid="local-figures-note">
          <LockIcon /> These figures are this site’s own and never leave it
        </span>
      </h3>
      {rounds.length === 0 ? (
        <p className="muted small">This site has not taken part in a round of this federation yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="table compact round-history" data-testid="round-history">
            <thead>
              <tr>
                <th scope="col">Round</th>
                <th scope="col">Outcome</th>
                <th scope="col">Versions</th>
                <th
                  scope="col"
                  className="num"
                  title="Accuracy of the starting version on this site's validation split"
                >
                  Local accuracy
                </th>
                <th scope="col" className="num">
                  Closed / open
                </th>
                <th scope="col" className="num">
                  Training loss
                </th>
                <th scope="col" className="num">
                  Examples
                </th>
                <th scope="col" className="num">
                  Training
                </th>
                <th scope="col" className="num">
                  Secure agg.
                </th>
                <th scope="col" className="num">
                  Sent
                </th>
                <th scope="col">Started</th>
              </tr>
            </thead>
            <tbody>
              {rounds.map((round) => {
                const figures = localRoundFigures(round.details);
                const v = figures.validation;
                return (
                  <Fragment key={round.round}>
                    <tr
                      data-testid="round-history-row"
                      data-status={round.status}
                      className={round.reason ? 'has-reason' : undefined}
                    >
                      <td>{round.round}</td>
                      <td>
                        <span className={`pill pill-${OUTCOME_TONE[round.status] ?? 'neutral'}`}>
                          {round.status}
                        </span>
                      </td>
                      <td className="nowrap">
                        v{round.startingVersion}
                        {round.publishedVersion !== null && ` → v${round.publishedVersion}`}
                      </td>
                      <td className="num" title={v ? `${formatCount(v.n)} validation questions` : undefined}>
                        {formatPercent(v?.overallAcc)}
                      </td>
                      <td className="num nowrap">
                        {formatPercent(v?.closedAcc)} / {formatPercent(v?.openAcc)}
                      </td>
                      <td className="num">
                        {figures.trainLoss === null ? '–' : figures.trainLoss.toFixed(3)}
                      </td>
                      <td className="num">
                        {figures.trainExamples === null ? '–' : formatCount(figures.trainExamples)}
                      </td>
                      <td className="num nowrap">{formatDuration(figures.trainMs)}</td>
                      <td className="num nowrap">{formatDuration(figures.secaggClientMs)}</td>
                      <td className="num nowrap">
                        {figures.uploadBytes === null ? '–' : formatBytes(figures.uploadBytes)}
                      </td>
                      <td className="small">
                        {formatDateTime(round.startedAt)}
                        {round.finishedAt && (
                          <div className="muted small">
                            took {formatDuration(Date.parse(round.finishedAt) - Date.parse(round.startedAt))}
                          </div>
                        )}
                      </td>
                    </tr>
                    {/* Below its row, across the whole table: a reason can run to several sentences. */}
                    {round.reason && (
                      <tr className="reason-row">
                        <td />
                        <td colSpan={COLUMNS - 1} className="muted small">
                          <div className="reason" data-testid="round-reason">
                            {round.reason}
                          </div>
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
