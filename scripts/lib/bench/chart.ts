/**
 * The run's chart: computers finished over time, Courier's install job against the floor, as a vega-lite
 * line chart rendered headless to SVG (no browser, no canvas).
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Point } from './measures.js';

/** More points than this per line add nothing a reader can see; every n-th is kept, and the last. */
const MAX_POINTS_PER_LINE = 1500;

function thinned(points: readonly Point[]): Point[] {
  if (points.length <= MAX_POINTS_PER_LINE) return [...points];
  const step = Math.ceil(points.length / MAX_POINTS_PER_LINE);
  return points.filter((_, index) => index % step === 0 || index === points.length - 1);
}

/** The SVG of the chart; `title` says what was run. */
export async function renderChart(title: string, lines: { name: string; points: readonly Point[] }[]): Promise<string> {
  const values = lines.flatMap(({ name, points }) => thinned(points).map(([seconds, computers]) => ({ run: name, seconds, computers })));
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Computers finished over time', subtitle: title },
    width: 640,
    height: 320,
    data: { values },
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 'seconds', type: 'quantitative', title: 'seconds from the start (Courier: from the job’s execution time)' },
      y: { field: 'computers', type: 'quantitative', title: 'computers finished' },
      color: { field: 'run', type: 'nominal', title: null, sort: lines.map((line) => line.name) },
    },
  };
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
