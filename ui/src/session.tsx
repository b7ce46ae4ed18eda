// Who is signed in. The token is sent once, to POST /api/v1/session, which answers with an
// HttpOnly cookie: the page never keeps the token (no localStorage, nothing in a URL).
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { api, setUnauthorizedHandler, type Whoami } from "./api";

interface Session {
  /** undefined while asking the server, null when nobody is signed in */
  me: Whoami | null | undefined;
  signIn(token: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Whoami | null | undefined>(undefined);

  useEffect(() => {
    setUnauthorizedHandler(() => setMe(null));
    // 200 with user null when nobody is signed in: no failed request in the console.
    api<Whoami | { user: null }>("/api/v1/session").then(
      (who) => setMe(who.user === null ? null : (who as Whoami)),
      () => setMe(null),
    );
  }, []);

  const signIn = useCallback(async (token: string) => {
    setMe(await api<Whoami>("/api/v1/session", { method: "POST", body: JSON.stringify({ token }) }));
  }, []);

  const signOut = useCallback(async () => {
    await api<void>("/api/v1/session", { method: "DELETE" });
    setMe(null);
  }, []);

  return <SessionContext.Provider value={{ me, signIn, signOut }}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error("useSession outside SessionProvider");
  return session;
}
