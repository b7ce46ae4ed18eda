import { describe, expect, it } from "vitest";
import { filtersByNamespace, namespaceQuery, withNamespace } from "./namespace";

describe("the namespace in the URL", () => {
  it("is set, replaced or taken out of a path, its other parameters kept", () => {
    expect(withNamespace("/runs", "acme")).toBe("/runs?ns=acme");
    expect(withNamespace("/components?q=notif&ns=old", "acme")).toBe("/components?q=notif&ns=acme");
    expect(withNamespace("/components?q=notif&ns=old", null)).toBe("/components?q=notif");
    expect(withNamespace("/runs?ns=acme", null)).toBe("/runs");
  });

  it("filters the listing pages only", () => {
    for (const path of ["/runs", "/flows", "/components", "/operate", "/operate/secrets"]) expect(filtersByNamespace(path)).toBe(true);
    for (const path of ["/runs/3", "/flows/new", "/flows/a/b/c", "/components/acme/notify", "/login"]) expect(filtersByNamespace(path)).toBe(false);
  });

  it("becomes the API's namespace parameter", () => {
    expect(namespaceQuery({ limit: "100" }, "acme").toString()).toBe("limit=100&namespace=acme");
    expect(namespaceQuery({ limit: "100" }, null).toString()).toBe("limit=100");
  });
});
