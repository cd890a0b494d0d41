import { formatCount } from '../format.dom.js';

/** One headline figure with its label, e.g. "3,064 questions". */
export function StatTile({ value, label, testId }: { value: number; label: string; testId?: string }) {
  return (
    <div className="stat">
      <div className="stat-value" data-testid={testId}>
        {formatCount(value)}
      </div>
      <div className="stat-label">{label}</div>
    </div>
  );
}
