import type { RoundEvent } from '../../api/use-site-status.dom.js';
import { ProgressBar } from '../../components/ProgressBar.dom.js';
import { formatCount, formatDateTime } from '../../format.dom.js';
import { ROUND_STEPS, describeRoundPhase } from '../../round-phase.dom.js';

/** Where this site is in the round running now (or how the last one it saw ended). */
export function LiveRoundCard({
  event,
  active,
  last,
  federationName,
}: {
  event: RoundEvent | undefined;
  active: { federationId: string; round: number } | null;
  /** The latest round in this site's history, for when nothing is running. */
  last: { federationId: string; round: number; status: string; finishedAt: string | null } | undefined;
  federationName: (id: string) => string;
}) {
  const current =
    event && (!active || (event.federationId === active.federationId && event.round === active.round))
      ? event
      : undefined;
  const phase = current ? describeRoundPhase(current.phase) : undefined;
  const round = current ?? active;
  const progress = current?.progress;

  return (
    <section className="card live-round" aria-labelledby="live-round-heading" data-testid="live-round">
      <div className="card-head">
        <h2 id="live-round-heading">
          {round ? `Round ${round.round} · ${federationName(round.federationId)}` : 'Current round'}
        </h2>
        {round && (
          <span
            className={`pill pill-${phase?.tone === 'running' || !phase ? 'info' : phase.tone}`}
            data-testid="live-round-state"
            data-phase={current?.phase ?? 'running'}
          >
            {!phase || phase.tone === 'running' ? 'Running' : phase.outcome}
          </span>
        )}
      </div>
      {!round ? (
        <>
          <p className="muted" data-testid="live-round-idle">
            No round is running. The coordinator opens rounds; while participation is on, this site joins them
            on its own.
          </p>
          {last && (
            <p className="small" data-testid="live-round-last">
              Last round: {last.round} of {federationName(last.federationId)}, <strong>{last.status}</strong>
              {last.finishedAt && ` at ${formatDateTime(last.finishedAt)}`}.
            </p>
          )}
        </>
      ) : (
        <>
          <ol className="stepper" aria-label="Round steps">
            {ROUND_STEPS.map((step, index) => {
              const at = phase?.step ?? 0;
              const state =
                index < at || (phase?.outcome && index === at) ? 'done' : index === at ? 'now' : 'later';
              return (
                <li
                  key={step}
                  className={`step step-${state}`}
                  aria-current={state === 'now' ? 'step' : undefined}
                >
                  <span className="step-dot" aria-hidden="true" />
                  {step}
                </li>
              );
            })}
          </ol>
          <p
            className={`phase-label tone-${phase?.tone ?? 'running'}`}
            aria-live="polite"
            data-testid="live-round-phase"
          >
            {phase?.label ?? 'In progress'}
            {current?.detail && <span className="muted"> — {current.detail}</span>}
          </p>
          {progress && !phase?.outcome && (
            <div className="round-progress">
              <ProgressBar
                done={progress.done}
                total={progress.total}
                label={current?.phase === 'train' ? 'Local training progress' : 'Evaluation progress'}
                testId="live-round-progress"
              />
              <div className="muted small">
                {current?.phase === 'train' ? 'Step ' : 'Validation examples: '}
                {formatCount(progress.done)} of {formatCount(progress.total)}
                {progress.loss !== undefined && ` · training loss ${progress.loss.toFixed(3)}`}
              </div>
            </div>
          )}
        </>
      )}
    </section>
  );
}
