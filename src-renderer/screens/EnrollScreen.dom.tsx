import { useState, type FormEvent } from 'react';
import type { SiteStatus } from '../../core/site-api/contract.js';
import { siteApi } from '../api/site-api-client.dom.js';

/** First run: paste the coordinator's one-time invitation link. */
export function EnrollScreen({ onEnrolled }: { onEnrolled: (status: SiteStatus) => void }) {
  const [link, setLink] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onEnrolled(await siteApi.invoke('enrollment.enroll', { link: link.trim() }));
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card enroll">
      <h2>Join a federation</h2>
      <p>
        Paste the enrollment link your coordinator sent you. It names the coordinator, carries a one-time
        token, and pins the coordinator's certificate, so this site talks only to the right server.
      </p>
      <form onSubmit={submit}>
        <label htmlFor="enroll-link">Enrollment link</label>
        <textarea
          id="enroll-link"
          data-testid="enroll-link"
          value={link}
          onChange={(event) => setLink(event.target.value)}
          placeholder="cohort://enroll?coordinator=https%3A%2F%2F…&token=…&fingerprint=…"
          rows={3}
          spellCheck={false}
          required
        />
        {error && (
          <p className="error" role="alert" data-testid="enroll-error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || link.trim() === ''} data-testid="enroll-submit">
          {busy ? 'Enrolling…' : 'Enroll this site'}
        </button>
      </form>
    </section>
  );
}
