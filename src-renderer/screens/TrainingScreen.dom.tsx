import { useState } from 'react';
import type { ParticipationSettings, SiteStatus } from '../../core/site-api/contract.js';
import { siteApi } from '../api/site-api-client.dom.js';
import { useFederationView } from '../api/use-federation-view.dom.js';
import { formatDateTime } from '../format.dom.js';
import { FederationCard } from './training/FederationCard.dom.js';
import type { RoundEvent } from '../api/use-site-status.dom.js';
import { LiveRoundCard } from './training/LiveRoundCard.dom.js';
import { ParticipationCard } from './training/ParticipationCard.dom.js';
import { RosterCard } from './training/RosterCard.dom.js';
import { SecurityCard } from './training/SecurityCard.dom.js';

/** "This site refused …": the coordinator sent something that failed this site's checks. */
export function RefusalBanner({
  refusal,
  onDismiss,
}: {
  refusal: { at: string; message: string };
  onDismiss: () => void;
}) {
  return (
    <div className="banner banner-bad" role="alert" data-testid="refusal-banner">
      <div className="banner-icon" aria-hidden="true">
        !
      </div>
      <div className="banner-body">
        <strong>This site refused a global model from the coordinator.</strong>
        <div data-testid="refusal-message">{refusal.message}</div>
        <div className="small">
          {formatDateTime(refusal.at)}. Nothing from it was stored or trained on. A wrong signature or
          base-model hash means the version did not come from the coordinator you enrolled with, or was built
          for another model: tell your coordinator’s operator before taking part again.
        </div>
      </div>
      <button type="button" className="secondary" onClick={onDismiss} data-testid="refusal-dismiss">
        I have told them
      </button>
    </div>
  );
}

const DISMISSED_KEY = 'cohort.dismissedRefusal';

/** Federated training as this site sees it: the operator's switches, partners, versions and rounds. */
export function TrainingScreen({ status, round }: { status: SiteStatus; round: RoundEvent | undefined }) {
  const { view, setView, error, setError, load } = useFederationView();
  const [saving, setSaving] = useState(false);
  // The operator acknowledges one refusal (by its time); a later one shows again.
  const [dismissed, setDismissed] = useState(() => localStorage.getItem(DISMISSED_KEY));
  const dismiss = (at: string) => {
    localStorage.setItem(DISMISSED_KEY, at);
    setDismissed(at);
  };

  const save = async (participation: ParticipationSettings) => {
    if (!view) return;
    setSaving(true);
    setView({ ...view, participation });
    try {
      setView(await siteApi.invoke('federation.setParticipation', participation));
      setError(undefined);
    } catch (caught) {
      setError((caught as Error).message);
      void load();
    } finally {
      setSaving(false);
    }
  };

  const approve = async (siteIds: string[]) => {
    setSaving(true);
    try {
      setView(await siteApi.invoke('federation.approveRoster', { siteIds }));
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setSaving(false);
    }
  };

  const approveConfig = async (federationId: string, configHash: string) => {
    setSaving(true);
    try {
      setView(await siteApi.invoke('federation.approveConfig', { federationId, configHash }));
      setError(undefined);
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setSaving(false);
    }
  };

  const names = new Map(status.roster.map((site) => [site.id, site.name]));
  const federationName = (id: string) => view?.federations.find((f) => f.id === id)?.name ?? id;
  const last = view?.federations
    .flatMap((federation) => federation.rounds.map((round) => ({ ...round, federationId: federation.id })))
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt))[0];

  return (
    <div className="stack">
      {view?.refusal && view.refusal.at !== dismissed && (
        <RefusalBanner refusal={view.refusal} onDismiss={() => dismiss(view.refusal!.at)} />
      )}
      {error && (
        <p className="error" role="alert" data-testid="training-error">
          {error}
        </p>
      )}
      {!view ? (
        !error && <p className="muted">Loading…</p>
      ) : (
        <>
          <div className="grid">
            <ParticipationCard settings={view.participation} saving={saving} onChange={(s) => void save(s)} />
            <LiveRoundCard
              event={round}
              active={view.activeRound}
              last={last}
              federationName={federationName}
            />
          </div>
          <RosterCard
            roster={view.roster}
            names={names}
            busy={saving}
            onApprove={(ids) => void approve(ids)}
          />
          <SecurityCard
            security={view.security}
            busy={saving}
            onApprove={(federationId, hash) => void approveConfig(federationId, hash)}
          />
          {view.federations.length === 0 ? (
            <section className="card" data-testid="no-federations">
              <h2>Federations</h2>
              <p className="muted">
                This site has not received a global model yet. It receives one when the coordinator opens a
                round (or when it reconnects after one).
              </p>
            </section>
          ) : (
            [...view.federations]
              .sort((a, b) => b.receivedAt.localeCompare(a.receivedAt))
              .map((federation) => <FederationCard key={federation.id} federation={federation} />)
          )}
        </>
      )}
    </div>
  );
}
