// What an operator looks at: webhook deliveries, schedules, notifications sent, a
// namespace's secrets (names only) and the caller's tokens. One page each, with its own URL.
import { NavLink, Navigate, Route, Routes } from "react-router";
import { Deliveries } from "./Deliveries";
import { Notifications } from "./Notifications";
import { Schedules } from "./Schedules";
import { Secrets } from "./Secrets";
import { Tokens } from "./Tokens";

export default function Operate() {
  return (
    <section className="operate">
      <nav className="tabs" aria-label="Operate">
        <NavLink to="/operate/deliveries">Webhook deliveries</NavLink>
        <NavLink to="/operate/schedules">Schedules</NavLink>
        <NavLink to="/operate/notifications">Notifications</NavLink>
        <NavLink to="/operate/secrets">Secrets</NavLink>
        <NavLink to="/operate/tokens">Tokens</NavLink>
      </nav>
      <Routes>
        <Route index element={<Navigate to="/operate/deliveries" replace />} />
        <Route path="deliveries" element={<Deliveries />} />
        <Route path="schedules" element={<Schedules />} />
        <Route path="notifications" element={<Notifications />} />
        <Route path="secrets" element={<Secrets />} />
        <Route path="tokens" element={<Tokens />} />
      </Routes>
    </section>
  );
}
