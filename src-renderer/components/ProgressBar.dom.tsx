import { fraction } from '../format.dom.js';

/**
 * A labelled progress bar; an unknown total shows an indeterminate stripe. Screen readers get the value
 * through the progressbar role (the caller announces phase changes in its own live region).
 */
export function ProgressBar({
  done,
  total,
  label,
  testId,
}: {
  done: number;
  total: number;
  label: string;
  testId?: string;
}) {
  const share = fraction(done, total);
  return (
    <div
      className={`progress${share === null ? ' progress-indeterminate' : ''}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={total > 0 ? total : undefined}
      aria-valuenow={share === null ? undefined : done}
      data-testid={testId}
    >
      <div className="progress-fill" style={{ width: share === null ? undefined : `${share * 100}%` }} />
    </div>
  );
}
