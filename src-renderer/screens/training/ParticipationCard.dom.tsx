import type { ParticipationSettings } from '../../../core/site-api/contract.js';
import { Switch } from '../../components/Switch.dom.js';

const DEFAULT_WINDOW = { start: '20:00', end: '06:00' };

/** The operator's say over rounds: join at all, when, and whether new sites need approval. */
export function ParticipationCard({
  settings,
  saving,
  onChange,
}: {
  settings: ParticipationSettings;
  saving: boolean;
  onChange: (settings: ParticipationSettings) => void;
}) {
  const window = settings.window;
  return (
    <section className="card" aria-labelledby="participation-heading" data-testid="participation">
      <div className="card-head">
        <h2 id="participation-heading">Participation</h2>
        <span
          className={`pill ${settings.participate ? 'pill-ok' : 'pill-neutral'}`}
          data-testid="participation-state"
        >
          {settings.participate ? 'Joining rounds' : 'Paused'}
        </span>
      </div>
      <Switch
        checked={settings.participate}
        onChange={(participate) => onChange({ ...settings, participate })}
        label="Take part in federated training"
        description="When on, this site trains on its own records when the coordinator opens a round and sends only a masked update. When off, it declines every round."
        disabled={saving}
        testId="participate-switch"
      />
      <Switch
        checked={window !== null}
        onChange={(on) => onChange({ ...settings, window: on ? DEFAULT_WINDOW : null })}
        label="Only during a daily time window"
        description="For example overnight, when the workstation is otherwise idle (local time)."
        disabled={saving}
        testId="window-switch"
      />
      {window && (
        <div className="window-times">
          <label>
            From{' '}
            <input
              type="time"
              value={window.start}
              onChange={(e) =>
                e.target.value && onChange({ ...settings, window: { ...window, start: e.target.value } })
              }
              disabled={saving}
              data-testid="window-start"
            />
          </label>
          <label>
            to{' '}
            <input
              type="time"
              value={window.end}
              onChange={(e) =>
                e.target.value && onChange({ ...settings, window: { ...window, end: e.target.value } })
              }
              disabled={saving}
              data-testid="window-end"
            />
          </label>
          {window.start > window.end && <span className="muted small">(overnight)</span>}
        </div>
      )}
      <Switch
        checked={settings.autoAcceptRoster}
        onChange={(autoAcceptRoster) => onChange({ ...settings, autoAcceptRoster })}
        label="Accept new partner sites automatically"
        description="Off (recommended): a site the coordinator adds waits for your approval below, after you compare its fingerprint with its operator."
        disabled={saving}
        testId="auto-accept-switch"
      />
    </section>
  );
}
