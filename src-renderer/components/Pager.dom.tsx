import { pageRange } from '../format.dom.js';

/** Previous / next through a long list, with "1–50 of 3,064". */
export function Pager({
  offset,
  limit,
  shown,
  total,
  onChange,
  testId,
}: {
  offset: number;
  limit: number;
  shown: number;
  total: number;
  onChange: (offset: number) => void;
  testId: string;
}) {
  return (
    <nav className="pager" aria-label="Pages" data-testid={testId}>
      <button
        type="button"
        className="secondary"
        disabled={offset === 0}
        onClick={() => onChange(Math.max(0, offset - limit))}
        data-testid={`${testId}-prev`}
      >
        ← Previous
      </button>
      <span className="muted" data-testid={`${testId}-range`}>
        {pageRange(offset, shown, total)}
      </span>
      <button
        type="button"
        className="secondary"
        disabled={offset + shown >= total}
        onClick={() => onChange(offset + limit)}
        data-testid={`${testId}-next`}
      >
        Next →
      </button>
    </nav>
  );
}
