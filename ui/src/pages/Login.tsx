import { useState, type FormEvent } from "react";
import { Navigate, useSearchParams } from "react-router";
import { useSession } from "../session";

/** Where to go after signing in: a path of this site only (never another origin). */
function safeNext(next: string | null): string {
  return next && /^\/[^/\\]/.test(next) && !next.startsWith("/login") ? next : "/runs";
}

/** /login once signed in: on to the page that asked for it. */
export function AfterLogin() {
  const [params] = useSearchParams();
  return <Navigate to={safeNext(params.get("next"))} replace />;
}

export function Login() {
  const { signIn } = useSession();
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    try {
      await signIn(token.trim());
      setToken(""); // App then renders AfterLogin
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  return (
    <form className="login" onSubmit={(e) => void submit(e)}>
      <h1>ContainerOps</h1>
      <label htmlFor="token">API token</label>
      <input
        id="token"
        name="token"
        type="password"
        autoComplete="off"
        placeholder="coops_…"
        value={token}
        onChange={(e) => setToken(e.target.value)}
        required
      />
      <p className="muted">
        <code>coops token create --user NAME --scope read</code> makes one. It is exchanged for a session cookie and not
        kept by this page.
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit">Sign in</button>
    </form>
  );
}
