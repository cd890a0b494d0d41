import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { AdminRound } from '../../core/protocol/admin.js';
import { versionPoints } from './version-points.dom.js';

/** Federation-wide validation accuracy (left axis, %) and loss (right axis) of each global version. */
export function MetricsChart({ rounds }: { rounds: readonly AdminRound[] }) {
  const points = versionPoints(rounds);
  if (points.length < 2)
    return (
      <p className="muted small" data-testid="metrics-chart-empty">
        The chart appears once two versions have been measured.
      </p>
    );
  const best = points.reduce((a, b) => ((b.overall ?? -1) > (a.overall ?? -1) ? b : a));
  return (
    <figure className="chart" data-testid="metrics-chart" data-points={points.length}>
      <figcaption className="small muted">
        Federation-wide validation accuracy and loss by version. Best so far: v{best.version} at{' '}
        {best.overall ?? '–'} % overall.
      </figcaption>
      <ResponsiveContainer width="100%" height={260}>
        <LineChart data={points} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
          <CartesianGrid stroke="#e6ebf0" />
          <XAxis dataKey="version" padding={{ left: 24, right: 24 }} tickFormatter={(v: number) => `v${v}`} />
          <YAxis yAxisId="acc" domain={[0, 100]} unit=" %" width={56} />
          <YAxis yAxisId="loss" orientation="right" width={48} />
          <Tooltip labelFormatter={(v) => `version ${String(v)}`} />
          <Legend />
          <Line
            isAnimationActive={false}
            yAxisId="acc"
            dataKey="overall"
            name="overall accuracy"
            stroke="#0f6e8c"
            strokeWidth={2}
          />
          <Line
            isAnimationActive={false}
            yAxisId="acc"
            dataKey="closed"
            name="closed"
            stroke="#17703d"
            strokeDasharray="4 3"
          />
          <Line
            isAnimationActive={false}
            yAxisId="acc"
            dataKey="open"
            name="open"
            stroke="#8a5200"
            strokeDasharray="4 3"
          />
          <Line
            isAnimationActive={false}
            yAxisId="loss"
            dataKey="valLoss"
            name="validation loss"
            stroke="#7a4fa0"
            strokeWidth={1.5}
          />
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}
