import { useEffect, useRef } from 'react';
import uPlot from 'uplot';

/** A uPlot canvas that fills its container's width and follows its resizes. `makeOptions` and `data` must be
 * memoised by the caller: the chart is rebuilt when either changes. */
export function UPlotChart({ makeOptions, data, height, testid, label, onPlot }: {
  makeOptions: (width: number, height: number) => uPlot.Options;
  data: uPlot.AlignedData;
  height: number;
  testid: string;
  label: string;
  /** told of each plot made (and of null when it goes), e.g. to draw an overlay on `u.over` */
  onPlot?: (u: uPlot | null) => void;
}): JSX.Element {
  const box = useRef<HTMLDivElement | null>(null);
  const onPlotRef = useRef(onPlot);
  onPlotRef.current = onPlot;

  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const width = Math.max(200, Math.floor(el.clientWidth || 600));
    let plot: uPlot | null = null;
    try {
      plot = new uPlot(makeOptions(width, height), data, el);
    } catch {
      plot = null; // a chart that cannot be drawn leaves its box empty; the tables still hold the numbers
    }
    let ro: ResizeObserver | null = null;
    if (plot && typeof ResizeObserver !== 'undefined') {
      let last = width;
      ro = new ResizeObserver(() => {
        const w = Math.max(200, Math.floor(el.clientWidth));
        if (plot && w !== last) {
          last = w;
          plot.setSize({ width: w, height });
        }
      });
      ro.observe(el);
    }
    onPlotRef.current?.(plot);
    return () => {
      onPlotRef.current?.(null);
      ro?.disconnect();
      plot?.destroy();
    };
  }, [makeOptions, data, height]);

  return <div className="chart" ref={box} data-testid={testid} role="img" aria-label={label} />;
}

/** Shared axis styling of the dark theme. */
export const AXIS = {
  stroke: '#9aa4b1',
  grid: { stroke: 'rgba(255,255,255,0.07)', width: 1 },
  ticks: { stroke: 'rgba(255,255,255,0.18)', width: 1, size: 4 },
  font: '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  labelFont: '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
};
