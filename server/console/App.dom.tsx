import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { AdminInvitation, AdminStatus } from '../../core/protocol/admin.js';
import { AdminApiError, adminApi, adminToken } from './api.dom.js';
import { Federations } from './Federations.dom.js';

type Tab = 'sites' | 'federations';
const tabFromHash = (): Tab => (window.location.hash === '#federations' ? 'federations' : 'sites');

function SignIn({ onSignedIn, error }: { onSignedIn: () => void; error?: string }) {
  const [token, setToken] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    adminToken.set(token);
    onSignedIn();
  };
  return (
    <section className="card narrow">
      <h2>Sign in</h2>
      <p className="muted">
        Paste the admin token from the coordinator's data directory (the file admin.token).
      </p>
      <form onSubmit={submit}>
        <input
          type="password"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-label="Admin token"
          data-testid="admin-token"
          autoFocus
        />
        {error && <p className="error">{error}</p>}
        <button type="submit" disabled={token.trim() === ''}>
          Sign in
        </button>
      </form>
    </section>
  );
}

function InviteForm() {
  const [name, setName] = useState('');
  const [hours, setHours] = useState(24);
  const [invitation, setInvitation] = useState<AdminInvitation>();
  const [error, setError] = useState<string>();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      setInvitation(await adminApi.invite(name.trim(), hours));
      setName('');
    } catch (caught) {
      setError((caught as Error).message);
    }
  };
  return (
    <section className="card">
      <h2>Invite a site</h2>
      <form onSubmit={submit} className="row">
        <input
          placeholder="Site name, e.g. Riverside Clinic"
          value={name}
          onChange={(e) => setName(e.target.value)}
          aria-label="Site name"
        />
        <label>
          expires in{' '}
          <input
            type="number"
            min={1}
            max={2160}
            value={hours}
            onChange={(e) => setHours(Number(e.target.value))}
            className="short"
          />{' '}
          h
        </label>
        <button type="submit" disabled={name.trim() === ''}>
          Create link
        </button>
      </form>
      {error && <p className="error">{error}</p>}
      {invitation && (
        <div className="invitation">
          <p>
            One-time link for <strong>{invitation.siteName}</strong>, valid until{' '}
            {new Date(invitation.expiresAt).toLocaleString()}. Send it over a channel you trust:
          </p>
          <code className="link">{invitation.link}</code>
        </div>
      )}
    </section>
  );
}

export function App() {
  const [status, setStatus] = useState<AdminStatus>();
  const [signedIn, setSignedIn] = useState(adminToken.get() !== '');
  const [error, setError] = useState<string>();
  const [tab, setTab] = useState<Tab>(tabFromHash);
  const show = (next: Tab) => {
    setTab(next);
    history.replaceState(null, '', next === 'sites' ? window.location.pathname : '#federations');
  };
  const siteName = (id: string) => status?.sites.find((site) => site.id === id)?.name ?? id;

  const refresh = useCallback(async () => {
    try {
      setStatus(await adminApi.status());
      setError(undefined);
    } catch (caught) {
      if (caught instanceof AdminApiError && caught.status === 401) {
        adminToken.clear();
        setSignedIn(false);
        setError(
          "That admin token is not valid for this coordinator: copy it from the file admin.token in the coordinator's data directory.",
        );
      } else setError((caught as Error).message);
    }
  }, []);

  useEffect(() => {
    if (!signedIn) return;
    const first = setTimeout(() => void refresh(), 0);
    const timer = setInterval(() => void refresh(), 3000);
    return () => {
      clearTimeout(first);
      clearInterval(timer);
    };
  }, [signedIn, refresh]);

  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="logo">◎</span> Cohort coordinator
        </div>
        <div>{status?.coordinator.name}</div>
      </header>
      <main>
        {!signedIn ? (
          <SignIn onSignedIn={() => setSignedIn(true)} error={error} />
        ) : (
          <>
            <nav className="tabs" aria-label="Console sections">
              {(['sites', 'federations'] as const).map((name) => (
                <button
                  key={name}
                  type="button"
                  className={tab === name ? 'active' : ''}
                  aria-current={tab === name ? 'page' : undefined}
                  onClick={() => show(name)}
                  data-testid={`tab-${name}`}
                >
                  {name === 'sites' ? 'Sites' : 'Federations & rounds'}
                </button>
              ))}
            </nav>
            {error && <p className="error">{error}</p>}
            {tab === 'federations' && <Federations siteName={siteName} />}
            {tab === 'sites' && status && (
              <section className="card">
                <h2>
                  Sites{' '}
                  <span className="muted">
                    ({status.sites.filter((s) => s.connected).length} of {status.sites.length} connected)
                  </span>
                </h2>
                {status.sites.length === 0 ? (
                  <p className="muted" data-testid="sites-empty">
                    No site enrolled yet. Create an invitation link below (or with{' '}
                    <code>cohort server invite</code>) and enroll a site with it.
                  </p>
                ) : (
                  <table>
                    <thead>
                      <tr>
                        <th>Site</th>
                        <th>Status</th>
                        <th>Identity fingerprint</th>
                        <th>Enrolled</th>
                      </tr>
                    </thead>
                    <tbody>
                      {status.sites.map((site) => (
                        <tr key={site.id} data-testid={`site-${site.id}`}>
                          <td>
                            {site.name}
                            <div className="muted small">{site.id}</div>
                          </td>
                          <td>
                            <span className={`badge ${site.revoked ? 'bad' : site.connected ? 'ok' : 'off'}`}>
                              {site.revoked ? 'Revoked' : site.connected ? 'Connected' : 'Offline'}
                            </span>
                          </td>
                          <td>
                            <code>{site.fingerprint}</code>
                          </td>
                          <td className="small">{new Date(site.enrolledAt).toLocaleString()}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
                <p className="muted small">
                  Coordinator identity <code>{status.coordinator.identityFingerprint}</code> · address{' '}
                  {status.coordinator.publicUrl}
                </p>
              </section>
            )}
            {tab === 'sites' && <InviteForm />}
          </>
        )}
      </main>
    </div>
  );
}
