import type { ConnectionState } from '../../core/site-api/contract.js';

const labels: Record<ConnectionState, string> = {
  'not-enrolled': 'Not enrolled',
  connecting: 'Connecting…',
  connected: 'Connected',
  disconnected: 'Disconnected',
  refused: 'Refused',
};

export function ConnectionBadge({ state }: { state: ConnectionState }) {
  return (
    <span
      className={`badge badge-${state}`}
      data-testid="connection-state"
      data-state={state}
      role="status"
      aria-live="polite"
    >
      <span className="badge-dot" aria-hidden="true" />
      {labels[state]}
    </span>
  );
}
