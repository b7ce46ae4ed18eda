import { Navigate, NavLink, Route, Routes, useLocation } from "react-router";
import { NsLink, WhoAndWhere } from "./namespace";
import { useSession } from "./session";
import { Shortcuts } from "./Shortcuts";
import { lazy, Suspense, type ReactNode } from "react";
import { ComponentsList } from "./pages/components/ComponentsList";
import { FlowsList } from "./pages/FlowsList";
import { AfterLogin, Login } from "./pages/Login";
import { RunsList } from "./pages/RunsList";

// A run's page (the graph with @xyflow/react and dagre, the job drawer and its log view) is
// loaded when one is opened: the runs list, the first page most people see, comes sooner.
const RunPage = lazy(() => import("./pages/RunPage").then((module) => ({ default: module.RunPage })));
// The editor (CodeMirror, the YAML package) is loaded when a person opens it.
const EditorPage = lazy(() => import("./editor/EditorPage"));
// So are a component's page (Markdown and its sanitiser) and the operator's pages.
const ComponentPage = lazy(() => import("./pages/components/ComponentPage"));
const Operate = lazy(() => import("./pages/operate/Operate"));
// A flow's page (its versions' diff with the diff library).
const FlowPage = lazy(() => import("./pages/FlowPage"));

function Later({ children }: { children: ReactNode }) {
  return <Suspense fallback={<p className="muted">Loading…</p>}>{children}</Suspense>;
}

export function App() {
  const { me, signOut } = useSession();
  const location = useLocation();
  if (me === undefined) return <p className="loading">Loading…</p>;
  if (me === null) {
    if (location.pathname !== "/login") {
      const next = location.pathname + location.search;
      return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
    }
    return <Login />;
  }
  return (
    <div className="app">
      <header className="topbar">
        <NavLink to="/runs" className="brand">
          ContainerOps
        </NavLink>
        <nav>
          <NsLink to="/runs">Runs</NsLink>
          <NsLink to="/flows" end>
            Flows
          </NsLink>
          <NavLink to="/flows/new">New flow</NavLink>
          <NsLink to="/components">Components</NsLink>
          <NsLink to="/operate">Operate</NsLink>
        </nav>
        <WhoAndWhere me={me} />
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <Shortcuts />
      <main>
        <Routes>
          <Route path="/" element={<Navigate to="/runs" replace />} />
          <Route path="/login" element={<AfterLogin />} />
          <Route path="/runs" element={<RunsList />} />
          <Route path="/runs/:id" element={<Later><RunPage /></Later>} />
          <Route path="/runs/:id/jobs/:job" element={<Later><RunPage /></Later>} />
          <Route path="/flows" element={<FlowsList />} />
          <Route path="/flows/new" element={<Later><EditorPage /></Later>} />
          <Route path="/flows/:namespace/:repository/:name/edit" element={<Later><EditorPage /></Later>} />
          <Route path="/flows/:namespace/:repository/:name" element={<Later><FlowPage /></Later>} />
          <Route path="/components" element={<ComponentsList />} />
          <Route path="/components/:namespace/:name" element={<Later><ComponentPage /></Later>} />
          <Route path="/operate/*" element={<Later><Operate /></Later>} />
          <Route path="*" element={<p>No page at {location.pathname}.</p>} />
        </Routes>
      </main>
    </div>
  );
}
