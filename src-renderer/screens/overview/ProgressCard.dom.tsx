import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useFederationView } from '../../api/use-federation-view.dom.js';
import { progressPoints } from './progress-points.dom.js';

/**
 * The model improving, as this site sees it: each global version's accuracy on this site's own
 * validation split, round by round, and the loss of the local training. These figures never leave the
 * site (what the coordinator sees is only the sum over sites).
 */
export function ProgressCard() {
  const { view, error } = useFederationView();
  const federations = view?.federations ?? [];
  return (
    <section className="card span-2" aria-labelledby="progress-heading" data-testid="progress-card">
      <h2 id="progress-heading">Model progress on this site’s records</h2>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {view && federations.length === 0 && (
        <p className="muted" data-testid="progress-empty">
          No federation yet. When this site takes part in rounds, each global version’s accuracy on this
          site’s validation records is charted here.
        </p>
      )}
      {federations.map((federation) => {
        const points = progressPoints(federation.rounds);
        return (
          <figure
            key={federation.id}
            className="chart"
            data-testid="progress-chart"
            data-points={points.length}
          >
            <figcaption>
              <strong>{federation.name}</strong>{' '}
              <span className="muted small">
                {points.length < 2
                  ? 'the chart appears after two rounds this site took part in'
                  : `${points.length} rounds · validation accuracy of each starting version (left) and local training loss (right)`}
              </span>
            </figcaption>
            {points.length >= 2 && (
              <ResponsiveContainer width="100%" height={240}>
                <LineChart data={points} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
                  <CartesianGrid stroke="#e6ebf0" />
                  <XAxis
                    dataKey="round"
                    padding={{ left: 24, right: 24 }}
                    tickFormatter={(round: number) => `round ${round}`}
                  />
                  <YAxis yAxisId="acc" domain={[0, 100]} unit=" %" width={56} />
                  <YAxis yAxisId="loss" orientation="right" width={48} />
                  <Tooltip labelFormatter={(round) => `round ${String(round)}`} />
                  <Legend />
                  <Line
                    isAnimationActive={false}
                    yAxisId="acc"
                    dataKey="overall"
                    name="accuracy (all)"
                    stroke="#0f6e8c"
                    strokeWidth={2}
                  />
                  <Line
                    isAnimationActive={false}
                    yAxisId="acc"
                    dataKey="closed"
                    name="closed questions"
                    stroke="#17703d"
                    strokeDasharray="4 3"
                  />
                  <Line
                    isAnimationActive={false}
                    yAxisId="acc"
                    dataKey="open"
                    name="open questions"
                    stroke="#8a5200"
                    strokeDasharray="4 3"
                  />
                  <Line
                    isAnimationActive={false}
                    yAxisId="loss"
                    dataKey="trainLoss"
                    name="training loss"
                    stroke="#7a4fa0"
                  />
                </LineChart>
              </ResponsiveContainer>
            )}
          </figure>
        );
      })}
    </section>
  );
}
