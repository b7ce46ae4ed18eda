// What an operator looks at: webhook deliveries, schedules, notifications sent, a
// namespace's secrets (names only) and the caller's tokens. One page each, with its own URL;
// the namespace chosen in the header (`?ns=`) filters them.
import { Navigate, Route, Routes, useLocation } from "react-router";
import { NsLink } from "../../namespace";
import { Deliveries } from "./Deliveries";
import { Notifications } from "./Notifications";
import { Schedules } from "./Schedules";
import { Secrets } from "./Secrets";
import { Tokens } from "./Tokens";

export default function Operate() {
  const { search } = useLocation();
  return (
    <section className="operate">
      <nav className="tabs" aria-label="Operate">
        <NsLink to="/operate/deliveries">Webhook deliveries</NsLink>
        <NsLink to="/operate/schedules">Schedules</NsLink>
        <NsLink to="/operate/notifications">Notifications</NsLink>
        <NsLink to="/operate/secrets">Secrets</NsLink>
        <NsLink to="/operate/tokens">Tokens</NsLink>
      </nav>
      <Routes>
        <Route index element={<Navigate to={`/operate/deliveries${search}`} replace />} />
        <Route path="deliveries" element={<Deliveries />} />
        <Route path="schedules" element={<Schedules />} />
        <Route path="notifications" element={<Notifications />} />
        <Route path="secrets" element={<Secrets />} />
        <Route path="tokens" element={<Tokens />} />
      </Routes>
    </section>
  );
}
