import { useEffect, useState, type FormEvent } from "react";
import { api, when } from "../../api";
import { Listing } from "../../Listing";
import { useNamespace } from "../../namespace";
import { useSession } from "../../session";

interface Secret {
  name: string;
  updated_at?: string;
  created_at?: string;
}

/** A namespace's secrets: names only (values never come back); set, replace, delete. */
export function Secrets() {
  const { me } = useSession();
  const namespaces = Object.keys(me?.namespaces ?? {});
  const chosen = useNamespace();
  const [namespace, setNamespace] = useState(chosen ?? namespaces[0] ?? me?.user ?? "");
  useEffect(() => {
    if (chosen) setNamespace(chosen);
  }, [chosen]);
  const [secrets, setSecrets] = useState<Secret[]>();
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const load = () => {
    if (!namespace) return;
    api<Secret[]>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`).then(
      (rows) => (setSecrets(rows), setError(null)),
      (e: unknown) => (setSecrets([]), setError(e instanceof Error ? e.message : String(e))),
    );
  };
  useEffect(load, [namespace]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    api<{ created: boolean }>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`, { method: "PUT", body: JSON.stringify({ value }) }).then(
      (answer) => {
        setMessage(`${answer.created ? "Set" : "Replaced"} ${name}.`);
        setName("");
        setValue("");
        load();
      },
      (e: unknown) => setMessage(e instanceof Error ? e.message : String(e)),
    );
  };
  return (
    <>
      <h1>Secrets</h1>
      <label>
        Namespace{" "}
        <input value={namespace} onChange={(e) => setNamespace(e.target.value)} aria-label="Namespace" list="namespaces" />
        <datalist id="namespaces">
          {namespaces.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
      </label>
      {error && <p className="error">{error}</p>}
      <Listing
        items={secrets}
        empty="No secrets in this namespace."
        testId="secrets"
        heads={["Name", "Changed", ""]}
        row={(secret) => (
          <tr key={secret.name} data-secret={secret.name}>
            <td className="mono">{secret.name}</td>
            <td>{when(secret.updated_at ?? secret.created_at ?? null)}</td>
            <td>
              <button type="button" onClick={() => void api(`/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(secret.name)}`, { method: "DELETE" }).then(load)}>
                Delete
              </button>
            </td>
          </tr>
        )}
      />
      {me?.scope === "admin" || me?.admin ? (
        <form className="inline-form" onSubmit={submit}>
          <h2>Set or replace a secret</h2>
          <input required placeholder="NAME" aria-label="Secret name" value={name} onChange={(e) => setName(e.target.value)} />
          <input required type="password" autoComplete="off" placeholder="value" aria-label="Secret value" value={value} onChange={(e) => setValue(e.target.value)} />
          <button type="submit">Save secret</button>
        </form>
      ) : null}
      {message && <p role="status">{message}</p>}
    </>
  );
}
