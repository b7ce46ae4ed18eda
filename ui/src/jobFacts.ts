// What the drawer says about one job, picked from the run's document.
import type { Attempt, Change, Run } from "./api";

export interface ImageRef {
  /** the image as named, without its digest */
  name: string;
  /** sha256:... when the job ran a pinned image (a component from the repository is) */
  digest: string | null;
  /** namespace/name of a repository component, for a link to its page */
  component: string | null;
}

/** ``registry/ns/name@sha256:...`` into its name, digest and component; a tag stays a name. */
export function imageRef(image: string): ImageRef {
  const at = image.lastIndexOf("@");
  if (at < 0 || !image.slice(at + 1).startsWith("sha256:")) return { name: image, digest: null, component: null };
  const name = image.slice(0, at);
  const parts = name.split("/");
  // a registry host (with a dot or a port, or localhost) then namespace/name: a component
  const host = parts[0];
  const registry = parts.length === 3 && (host.includes(".") || host.includes(":") || host === "localhost");
  return { name, digest: image.slice(at + 1), component: registry ? `${parts[1]}/${parts[2]}` : null };
}

export function attemptsOf(run: Run, path: string): Attempt[] {
  return (run.attempts ?? []).filter((attempt) => attempt.job === path);
}

export function historyOf(run: Run, path: string): Change[] {
  return (run.history ?? []).filter((change) => change.job === path);
}
