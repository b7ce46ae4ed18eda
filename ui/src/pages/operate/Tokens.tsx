import { useEffect, useState, type FormEvent } from "react";
import { api, when } from "../../api";
import { Listing } from "../../Listing";

interface Token {
  key: string;
  name: string | null;
  scope: string;
  state: string;
  created_at: string;
  expires_at: string | null;
}

/** The caller's tokens: create one (its secret shown once, here), revoke one. */
export function Tokens() {
  const [tokens, setTokens] = useState<Token[]>();
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [scope, setScope] = useState("read");
  const [created, setCreated] = useState<string | null>(null);
  const load = () => {
    api<Token[]>("/api/v1/tokens").then(
      (rows) => (setTokens(rows), setError(null)),
      (e: unknown) => (setTokens([]), setError(e instanceof Error ? e.message : String(e))),
    );
  };
  useEffect(load, []);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    api<{ token: string }>("/api/v1/tokens", { method: "POST", body: JSON.stringify({ name: name || null, scope }) }).then(
      (answer) => {
        setCreated(answer.token);
        setName("");
        load();
      },
      (e: unknown) => setError(e instanceof Error ? e.message : String(e)),
    );
  };
  return (
    <>
      <h1>Tokens</h1>
      {error && <p className="error">{error}</p>}
      {created && (
        <p className="message" role="status">
          Your new token, shown this once: <code data-testid="new-token">{created}</code>
        </p>
      )}
      <Listing
        items={tokens}
        empty="No tokens."
        testId="tokens"
        heads={["Name", "Key", "Scope", "State", "Created", "Expires", ""]}
        row={(token) => (
          <tr key={token.key} data-token={token.key} data-state={token.state}>
            <td>{token.name ?? ""}</td>
            <td className="mono">{token.key}</td>
            <td>{token.scope}</td>
            <td>{token.state}</td>
            <td>{when(token.created_at)}</td>
            <td>{when(token.expires_at)}</td>
            <td>
              {token.state === "active" && (
                <button type="button" onClick={() => void api(`/api/v1/tokens/${token.key}`, { method: "DELETE" }).then(load, (e: unknown) => setError(String(e)))}>
                  Revoke
                </button>
              )}
            </td>
          </tr>
        )}
      />
      <form className="inline-form" onSubmit={submit}>
        <h2>New token</h2>
        <input placeholder="name (optional)" aria-label="Token name" value={name} onChange={(e) => setName(e.target.value)} />
        <select aria-label="Token scope" value={scope} onChange={(e) => setScope(e.target.value)}>
          <option value="read">read</option>
          <option value="write">write</option>
          <option value="admin">admin</option>
        </select>
        <button type="submit">Create token</button>
      </form>
    </>
  );
}
