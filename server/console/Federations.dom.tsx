import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type {
  AdminFederationDetail,
  AdminFederationList,
  AdminRound,
  AdminRoundEvent,
} from '../../core/protocol/admin.js';
import type { FederationConfig } from '../../core/protocol/federation.js';
import { adminApi } from './api.dom.js';
import { MetricsChart } from './MetricsChart.dom.js';

const SECURE_STAGES = ['join', 'advertise', 'share-keys', 'masked-input', 'consistency', 'unmask'];
const PLAIN_STAGES = ['join', 'plain-update'];
const STAGE_NAMES: Record<string, string> = {
  join: 'Join & local training',
  advertise: 'Public keys',
  reveal: 'Graph randomness',
  'share-keys': 'Key shares',
  'masked-input': 'Masked updates',
  consistency: 'Consistency check',
  unmask: 'Unmasking',
  'plain-update': 'Plain updates',
};

/**
 * Calls `load` every 2 s while the page is visible, and at once when it becomes visible again: rounds
 * are also started from the CLI or another console, and the admin API has no push channel for them.
 */
function usePollWhileVisible(load: () => unknown, enabled = true) {
  useEffect(() => {
    if (!enabled) return;
    const tick = () => {
      if (document.visibilityState === 'visible') void load();
    };
    const timer = setInterval(tick, 2000);
    document.addEventListener('visibilitychange', tick);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', tick);
    };
  }, [load, enabled]);
}

const pct = (value: number | null | undefined) => (value == null ? '–' : `${(value * 100).toFixed(1)} %`);
const seconds = (ms: number | null | undefined) => (ms == null ? '–' : `${(ms / 1000).toFixed(1)} s`);
/** Wall time of the round's stages after the join (secure-aggregation stages, or the plain upload). */
const stagesMs = (round: { timings: AdminRound['timings'] }) =>
  round.timings ? Object.values(round.timings.stagesMs).reduce((sum, ms) => sum + ms, 0) : null;

interface LiveRun {
  federationId: string;
  count: number;
  finished: number;
  round: number | null;
  stage: string | null;
  waitingFor: string[];
  participants: string[];
  log: string[];
  done: boolean;
  stopped: string | null;
}

function ConfigFacts({ config }: { config: FederationConfig }) {
  const parts = (['lora', 'prompt', 'head'] as const).filter((part) => config.adapter[part].enabled);
  return (
    <dl className="facts">
      <dt>Strategy</dt>
      <dd>
        {config.strategy.kind}
        {config.secure.enabled ? (
          <span className="badge ok">secure aggregation</span>
        ) : (
          <span className="badge bad">insecure baseline</span>
        )}
      </dd>
      <dt>Adapter parts</dt>
      <dd>
        {parts.map((part) => (
          <span key={part} className={`chip ${config.adapter[part].shared ? 'shared' : 'local'}`}>
            {part} · {config.adapter[part].shared ? 'shared' : 'local'}
          </span>
        ))}
      </dd>
      <dt>Local training</dt>
      <dd>
        {config.local.epochs} epoch{config.local.epochs === 1 ? '' : 's'}, batch {config.local.batchSize}, lr{' '}
        {config.local.lr}
      </dd>
      <dt>Sites</dt>
      <dd>
        at least {config.minSites}
        {config.secure.threshold ? `, threshold ${config.secure.threshold}` : ''}
        {config.secure.neighbours ? `, ${config.secure.neighbours} neighbours` : ''}
      </dd>
      <dt>Answers</dt>
      <dd>{config.answers.length} classes</dd>
    </dl>
  );
}

function RoundsTable({ rounds, siteName }: { rounds: AdminRound[]; siteName: (id: string) => string }) {
  if (rounds.length === 0) return <p className="muted">No rounds yet.</p>;
  return (
    <div className="table-scroll">
      <table data-testid="rounds-table">
        <thead>
          <tr>
            <th>Round</th>
            <th>Outcome</th>
            <th>Version</th>
            <th>Sites</th>
            <th
              className="num"
              title="Accuracy of the round's starting version on the sites' validation splits"
            >
              Closed
            </th>
            <th className="num">Open</th>
            <th className="num">Overall</th>
            <th className="num">Val. loss</th>
            <th className="num">Total</th>
            <th className="num" title="Until every invited site answered the invitation">
              Join
            </th>
            <th
              className="num"
              title="Secure-aggregation stages, wall time; sites train locally while the first stages run, so this includes the slowest site's training"
            >
              Stages
            </th>
            <th>Finished</th>
          </tr>
        </thead>
        <tbody>
          {[...rounds]
            .sort((a, b) => b.round - a.round)
            .map((round) => (
              <tr key={round.round} data-testid={`round-${round.round}`} data-state={round.state}>
                <td>{round.round}</td>
                <td>
                  <span
                    className={`badge ${round.state === 'completed' ? 'ok' : round.state === 'running' ? 'info' : 'bad'}`}
                  >
                    {round.state}
                  </span>
                  {round.error && <div className="small muted reason">{round.error}</div>}
                </td>
                <td className="nowrap">
                  v{round.baseVersion}
                  {round.state === 'completed' &&
                    (round.metrics?.evaluationOnly ? ' (evaluation)' : ` → v${round.baseVersion + 1}`)}
                </td>
                <td>
                  {/* Who is included is only known when the round ends. */}
                  {round.state === 'running'
                    ? `${round.participants.length} asked`
                    : `${round.included.length}/${round.participants.length}`}
                  {round.dropped.length > 0 && (
                    <div className="small bad-text" title={round.dropped.map(siteName).join(', ')}>
                      {round.dropped.length} dropped
                    </div>
                  )}
                </td>
                <td className="num">{pct(round.metrics?.closedAcc)}</td>
                <td className="num">{pct(round.metrics?.openAcc)}</td>
                <td className="num strong">{pct(round.metrics?.overallAcc)}</td>
                <td className="num">{round.metrics?.valLoss?.toFixed(3) ?? '–'}</td>
                <td className="num">{seconds(round.timings?.totalMs)}</td>
                <td className="num">{seconds(round.timings?.joinMs)}</td>
                <td
                  className="num"
                  title={
                    round.timings
                      ? Object.entries(round.timings.stagesMs)
                          .map(([stage, ms]) => `${STAGE_NAMES[stage] ?? stage}: ${seconds(ms)}`)
                          .join('\n')
                      : undefined
                  }
                >
                  {seconds(stagesMs(round))}
                </td>
                <td className="small nowrap">
                  {round.finishedAt ? new Date(round.finishedAt).toLocaleString() : '–'}
                </td>
              </tr>
            ))}
        </tbody>
      </table>
    </div>
  );
}

function StageProgress({
  stages,
  stage,
  waitingFor,
  siteName,
}: {
  stages: string[];
  stage: string | null;
  waitingFor: string[];
  siteName: (id: string) => string;
}) {
  const at = stage ? stages.indexOf(stage) : -1;
  return (
    <>
      <ol className="stages">
        {stages.map((name, index) => (
          <li
            key={name}
            className={index < at ? 'done' : index === at ? 'now' : ''}
            aria-current={index === at ? 'step' : undefined}
          >
            {STAGE_NAMES[name] ?? name}
          </li>
        ))}
      </ol>
      {stage && (
        <p className="small muted" data-testid="rounds-progress-stage" data-stage={stage}>
          {STAGE_NAMES[stage] ?? stage}: waiting for{' '}
          {waitingFor.length === 0 ? 'nobody' : waitingFor.map(siteName).join(', ')}
        </p>
      )}
    </>
  );
}

function LiveProgress({
  run,
  secure,
  siteName,
}: {
  run: LiveRun;
  secure: boolean;
  siteName: (id: string) => string;
}) {
  return (
    <div className="live" data-testid="rounds-progress" aria-live="polite">
      <div className="row-between">
        <strong data-testid="rounds-progress-title">
          {run.done
            ? `Finished ${run.finished} of ${run.count} round${run.count === 1 ? '' : 's'}`
            : `Round ${run.round ?? '…'} (${run.finished + 1} of ${run.count})`}
        </strong>
        {run.stopped && <span className="badge bad">stopped: {run.stopped}</span>}
      </div>
      {!run.done && (
        <StageProgress
          stages={secure ? SECURE_STAGES : PLAIN_STAGES}
          stage={run.stage}
          waitingFor={run.waitingFor}
          siteName={siteName}
        />
      )}
      {run.log.length > 0 && (
        <ul className="run-log small">
          {run.log.map((line, index) => (
            <li key={index}>{line}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function FederationDetail({
  id,
  siteName,
  onChanged,
}: {
  id: string;
  siteName: (id: string) => string;
  onChanged: () => void;
}) {
  const [detail, setDetail] = useState<AdminFederationDetail>();
  const [error, setError] = useState<string>();
  const [chosenCount, setCount] = useState<number>();
  const [run, setRun] = useState<LiveRun>();

  const load = useCallback(
    () =>
      adminApi.federation(id).then(
        (next) => {
          setDetail(next);
          setError(undefined);
        },
        (caught: Error) => setError(caught.message),
      ),
    [id],
  );
  useEffect(() => {
    void load();
  }, [load]);

  // While this page streams its own run, the stream's events reload the detail.
  usePollWhileVisible(load, !run || run.done);

  // Until the operator picks a number, the rounds the federation was created for (`--rounds`).
  const count = chosenCount ?? (detail?.federation.config as FederationConfig | undefined)?.rounds ?? 1;

  const start = async (event: FormEvent) => {
    event.preventDefault();
    const live: LiveRun = {
      federationId: id,
      count,
      finished: 0,
      round: null,
      stage: null,
      waitingFor: [],
      participants: [],
      log: [],
      done: false,
      stopped: null,
    };
    setRun(live);
    setError(undefined);
    const update = (change: Partial<LiveRun>) => setRun((current) => current && { ...current, ...change });
    const onEvent = (e: AdminRoundEvent) => {
      if (e.type === 'round-started') {
        update({ round: e.round, stage: null, participants: e.participants, waitingFor: e.participants });
        void load();
      } else if (e.type === 'round-stage') update({ stage: e.stage, waitingFor: e.waitingFor });
      else if (e.type === 'round-finished') {
        const o = e.outcome;
        const line =
          o.status === 'completed'
            ? `Round ${o.round} completed: v${o.metrics?.startingVersion ?? '?'} ${o.version ? `→ v${o.version.version}` : '(evaluation)'}, ${o.included.length}/${o.participants.length} sites, overall accuracy of the starting version ${pct(o.metrics?.overallAcc)}, ${seconds(o.timings.totalMs)}`
            : `Round ${o.round} aborted: ${o.reason ?? 'no reason given'}`;
        setRun(
          (current) => current && { ...current, finished: current.finished + 1, log: [...current.log, line] },
        );
        void load();
        onChanged();
      } else if (e.type === 'rounds-stopped') update({ stopped: e.reason });
      else if (e.type === 'rounds-done') update({ done: true, stage: null });
    };
    try {
      await adminApi.runRounds(id, count, onEvent);
    } catch (caught) {
      setError((caught as Error).message);
      setRun(undefined);
    } finally {
      update({ done: true, stage: null });
      void load();
      onChanged();
    }
  };

  if (!detail) return error ? <p className="error">{error}</p> : <p className="muted">Loading…</p>;
  const config = detail.federation.config as FederationConfig;
  const busy = (run !== undefined && !run.done) || detail.running !== null;
  return (
    <section className="card" data-testid="federation-detail" data-federation={id}>
      <div className="row-between">
        <h2>
          {detail.federation.name} <span className="muted small">{id}</span>
        </h2>
        <form className="row" onSubmit={(e) => void start(e)}>
          <label className="small">
            Run{' '}
            <input
              type="number"
              min={1}
              max={1000}
              value={count}
              onChange={(e) => setCount(Math.max(1, Number(e.target.value) || 1))}
              className="short"
              aria-label="Number of rounds"
              data-testid="rounds-count"
            />{' '}
            round{count === 1 ? '' : 's'}
          </label>
          <button type="submit" disabled={busy} data-testid="rounds-run">
            {busy ? 'Running…' : `Run ${count} round${count === 1 ? '' : 's'}`}
          </button>
        </form>
      </div>
      {error && <p className="error">{error}</p>}
      {detail.running && !run && (
        <div className="live" data-testid="round-running-elsewhere">
          <span className="badge info">
            Round {detail.running.round} of {detail.running.federationId} is running
          </span>
          {detail.running.federationId === id && (
            <StageProgress
              stages={config.secure.enabled ? SECURE_STAGES : PLAIN_STAGES}
              stage={detail.running.stage}
              waitingFor={detail.running.waitingFor}
              siteName={siteName}
            />
          )}
        </div>
      )}
      {run && <LiveProgress run={run} secure={config.secure.enabled} siteName={siteName} />}
      <div className="detail-grid">
        <ConfigFacts config={config} />
        <dl className="facts">
          <dt>Latest version</dt>
          <dd data-testid="federation-latest-version">
            {detail.latestVersion ? `v${detail.latestVersion.version}` : '–'}
          </dd>
          <dt>Version hash</dt>
          <dd>
            {detail.latestVersion ? (
              <code title={detail.latestVersion.hash}>{detail.latestVersion.hash.slice(0, 16)}…</code>
            ) : (
              '–'
            )}
          </dd>
          <dt>Base model</dt>
          <dd>
            <code title={config.baseModelHash}>{config.baseModelHash.slice(0, 16)}…</code>
          </dd>
          <dt>Created</dt>
          <dd>{new Date(detail.federation.createdAt).toLocaleString()}</dd>
        </dl>
      </div>
      <h3>Rounds</h3>
      <p className="muted small">
        Accuracy is that of each round’s starting version on the union of the participating sites’ validation
        splits, summed under secure aggregation: no site’s own figure reaches the coordinator.
      </p>
      <MetricsChart rounds={detail.rounds} />
      <RoundsTable rounds={detail.rounds} siteName={siteName} />
    </section>
  );
}

/** Every federation, and one in detail: its config, latest version, rounds, and a button to run more. */
export function Federations({ siteName }: { siteName: (id: string) => string }) {
  const [list, setList] = useState<AdminFederationList>();
  const [selected, setSelected] = useState<string>();
  const [error, setError] = useState<string>();

  const load = useCallback(
    () =>
      adminApi.federations().then(
        (next) => {
          setList(next);
          setError(undefined);
          setSelected((current) => current ?? next.federations[0]?.id);
        },
        (caught: Error) => setError(caught.message),
      ),
    [],
  );
  useEffect(() => {
    void load();
  }, [load]);
  usePollWhileVisible(load);

  return (
    <>
      <section className="card" data-testid="federations">
        <h2>Federations</h2>
        {error && <p className="error">{error}</p>}
        {list && list.federations.length === 0 && (
          <p className="muted" data-testid="federations-empty">
            No federation yet. Create one with <code>cohort server federation create</code>.
          </p>
        )}
        {list && list.federations.length > 0 && (
          <table>
            <thead>
              <tr>
                <th>Federation</th>
                <th className="num">Latest version</th>
                <th className="num">Completed rounds</th>
                <th>Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.federations.map((f) => (
                <tr
                  key={f.id}
                  data-testid={`federation-${f.id}`}
                  className={selected === f.id ? 'selected' : ''}
                >
                  <td>
                    {f.name}
                    <div className="muted small">{f.id}</div>
                  </td>
                  <td className="num">v{f.latestVersion}</td>
                  <td className="num">{f.completedRounds}</td>
                  <td className="small">{new Date(f.createdAt).toLocaleString()}</td>
                  <td>
                    {list.running?.federationId === f.id && (
                      <span className="badge info">round {list.running.round} running</span>
                    )}{' '}
                    <button
                      type="button"
                      className="secondary"
                      onClick={() => setSelected(f.id)}
                      aria-pressed={selected === f.id}
                    >
                      {selected === f.id ? 'Shown' : 'Show'}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {selected && (
        <FederationDetail key={selected} id={selected} siteName={siteName} onChanged={() => void load()} />
      )}
    </>
  );
}
