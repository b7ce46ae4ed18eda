/** Log lines from an event stream, shown once per animation frame: a log printing thousands
 * of lines a second renders a batch a frame, not a line at a time. The end of the stream
 * delivers what is still pending first, so that an ended log never shows as empty while
 * lines that came with its end wait for the next frame. */
export interface LogFeed<Line> {
  line(line: Line): void;
  /** A page of lines from one event (the stream's `batch=page` form). */
  lines(page: Line[]): void;
  end(): void;
  close(): void;
}

export interface Frames {
  request(callback: () => void): number;
  cancel(handle: number): void;
}

export function logFeed<Line>(
  frames: Frames,
  onLines: (batch: Line[]) => void,
  onEnd: () => void,
): LogFeed<Line> {
  let pending: Line[] = [];
  let frame: number | undefined;
  const flush = () => {
    frame = undefined;
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    onLines(batch);
  };
  const close = () => {
    if (frame !== undefined) frames.cancel(frame);
    frame = undefined;
  };
  return {
    line(line) {
      pending.push(line);
      frame ??= frames.request(flush);
    },
    lines(page) {
      for (const line of page) pending.push(line);
      if (pending.length > 0) frame ??= frames.request(flush);
    },
    end() {
      close();
      flush();
      onEnd();
    },
    close,
  };
}
