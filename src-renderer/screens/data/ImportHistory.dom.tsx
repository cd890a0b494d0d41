import { useEffect, useState } from 'react';
import type { ImportRecord } from '../../../core/data/site-data-api.js';
import { siteApi } from '../../api/site-api-client.dom.js';
import { formatCount, formatDateTime, formatDuration } from '../../format.dom.js';
import { ItemErrors } from './ImportCard.dom.js';

const PAGE = 10;
const ERRORS_SHOWN = 20;

const STATUS: Record<ImportRecord['status'], { label: string; tone: string }> = {
  completed: { label: 'Completed', tone: 'ok' },
  failed: { label: 'Failed', tone: 'bad' },
  cancelled: { label: 'Cancelled', tone: 'neutral' },
};

function counts(added: number, existing: number, failed: number) {
  return (
    <>
      <strong>{formatCount(added)}</strong> new
      {existing > 0 && <span className="muted"> · {formatCount(existing)} known</span>}
      {failed > 0 && <span className="bad-text"> · {formatCount(failed)} failed</span>}
    </>
  );
}

/** An import's per-item errors: the first ones came with the history, more are paged in on request. */
function HistoryErrors({ row }: { row: ImportRecord }) {
  const [errors, setErrors] = useState(row.errors);
  const [loadError, setLoadError] = useState<string>();
  const more = () =>
    siteApi.invoke('data.importErrors', { importId: row.id, offset: errors.length, limit: 200 }).then(
      (page) => setErrors([...errors, ...page]),
      (caught: Error) => setLoadError(caught.message),
    );
  return (
    <>
      <ItemErrors errors={errors} count={row.errorCount} />
      {errors.length < row.errorCount && (
        <button type="button" className="secondary small-button" onClick={() => void more()}>
          Show more errors
        </button>
      )}
      {loadError && <p className="error">{loadError}</p>}
    </>
  );
}

/** Every import so far, newest first: what it added, what it refused and why. */
export function ImportHistory({ refresh }: { refresh: number }) {
  const [limit, setLimit] = useState(PAGE);
  const [rows, setRows] = useState<ImportRecord[]>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    let current = true;
    siteApi.invoke('data.imports', { limit: limit + 1, errorLimit: ERRORS_SHOWN }).then(
      (result) => current && setRows(result),
      (caught: Error) => current && setError(caught.message),
    );
    return () => {
      current = false;
    };
  }, [limit, refresh]);

  return (
    <section className="card" aria-labelledby="history-heading" data-testid="import-history">
      <h2 id="history-heading">Import history</h2>
      {error && <p className="error">{error}</p>}
      {rows && rows.length === 0 && <p className="muted">No imports yet.</p>}
      {rows && rows.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Source</th>
              <th scope="col">Status</th>
              <th scope="col">Images</th>
              <th scope="col">Questions</th>
            </tr>
          </thead>
          <tbody>
            {rows.slice(0, limit).map((row) => (
              <tr key={row.id} data-testid="import-history-row" data-status={row.status}>
                <td className="nowrap">
                  {formatDateTime(row.startedAt)}
                  <div className="muted small">
                    {formatDuration(Date.parse(row.finishedAt) - Date.parse(row.startedAt))}
                  </div>
                </td>
                <td>
                  <span className="tag">{row.format}</span> <span className="path">{row.source}</span>
                </td>
                <td>
                  <span className={`pill pill-${STATUS[row.status].tone}`}>{STATUS[row.status].label}</span>
                  {row.failure && <div className="small bad-text">{row.failure}</div>}
                </td>
                <td className="nowrap">{counts(row.images.added, row.images.existing, row.images.failed)}</td>
                <td>
                  <span className="nowrap">
                    {counts(row.questions.added, row.questions.existing, row.questions.failed)}
                  </span>
                  {row.questions.skipped > 0 && (
                    <div
                      className="muted small"
                      title="Rows the import was told to leave out, or that hold no record"
                    >
                      {formatCount(row.questions.skipped)} left out as asked (not errors)
                    </div>
                  )}
                  {row.errorCount > 0 && (
                    <details className="small">
                      <summary>
                        {formatCount(row.errorCount)} item error{row.errorCount === 1 ? '' : 's'}
                      </summary>
                      <HistoryErrors row={row} />
                    </details>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {rows && rows.length > limit && (
        <button type="button" className="secondary" onClick={() => setLimit(limit + PAGE)}>
          Show older imports
        </button>
      )}
    </section>
  );
}
