// A job started from a form, with its progress shown: the Run button hidden and Stop shown
// while it runs, a bar and a status line that follow the job's events (waiting in the
// queue, working, how far it is), and both put back when it ends, however it ends. Leaves
// out what the job is and what its result draws (the caller's `done`).

import { runJob } from "./api.js";
import { status } from "./ui.js";

// o: { go, stop, bar, line } (the form's nodes); working: the line while it runs;
// count(d): how far, from a progress event; stopped: the line when stopped; ended(): the
// caller's own reset; done(d): the result.
export function progressJob(path, body, o) {
  const { go, stop, bar, line } = o;
  const width = (d) => { bar.firstElementChild.style.width = (d.total ? 100 * d.done / d.total : 0) + "%"; };
  go.hidden = true; stop.hidden = false;
  bar.hidden = false;
  width({ done: 0, total: 0 });
  status(line, "Sending\u2026");
  const end = () => { o.ended(); go.hidden = false; stop.hidden = true; bar.hidden = true; };
  return runJob(path, body, {
    queued(d) { status(line, "Waiting in the queue: position " + d.position, "queue"); },
    started() { status(line, o.working); },
    progress(d) { width(d); status(line, o.working + " " + o.count(d)); },
    done(d) { end(); o.done(d); },
    error(d) { end(); status(line, d.message, "error"); },
    cancelled() { end(); status(line, o.stopped, "muted"); },
    refused(err) { end(); status(line, err.message, "error"); },
  });
}
