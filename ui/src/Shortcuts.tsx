// Keyboard shortcuts of every page: "/" puts the cursor in the page's search box, "?" shows
// (and hides) the list of shortcuts, Escape closes it. Keys typed into a field are the field's.
import { useEffect, useState } from "react";

const SHORTCUTS: [string, string][] = [
  ["/", "Search (the page's search box)"],
  ["?", "Show or hide these shortcuts"],
  ["Escape", "Close the job drawer or this list"],
  ["Enter / Shift+Enter", "Next / previous match, in a log's search"],
  ["Delete", "Remove the focused job, on the editor's canvas"],
];

function typing(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  return !!element && (element.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(element.tagName));
}

export function Shortcuts() {
  const [shown, setShown] = useState(false);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") setShown(false);
      if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key === "?") {
        event.preventDefault();
        setShown((now) => !now);
      } else if (event.key === "/") {
        const search = document.querySelector<HTMLInputElement>("input[type=search]");
        if (search) {
          event.preventDefault();
          search.focus();
        }
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  if (!shown) return null;
  return (
    <div className="shortcuts" role="dialog" aria-label="Keyboard shortcuts" data-testid="shortcuts">
      <h2>Keyboard shortcuts</h2>
      <dl>
        {SHORTCUTS.map(([key, what]) => (
          <div key={key}>
            <dt>
              <kbd>{key}</kbd>
            </dt>
            <dd>{what}</dd>
          </div>
        ))}
      </dl>
      <button type="button" onClick={() => setShown(false)}>
        Close
      </button>
    </div>
  );
}
