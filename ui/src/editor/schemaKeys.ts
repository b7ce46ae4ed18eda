// Completion of keys from the flow JSON Schema (GET /api/v1/flows/schema): the keys allowed
// where the cursor is, found by walking the schema along the keys of the lines above.
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  description?: string;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
}

function resolve(root: JsonSchema, schema: JsonSchema): JsonSchema {
  let current = schema;
  for (let i = 0; i < 20 && current.$ref; i++) {
    const name = current.$ref.split("/").pop()!;
    current = root.$defs?.[name] ?? root.definitions?.[name] ?? {};
  }
  return current;
}

/** The schemas a value may match: its alternatives flattened. */
function variants(root: JsonSchema, schema: JsonSchema): JsonSchema[] {
  const resolved = resolve(root, schema);
  const alternatives = [...(resolved.anyOf ?? []), ...(resolved.oneOf ?? []), ...(resolved.allOf ?? [])];
  return [resolved, ...alternatives.flatMap((s) => variants(root, s))];
}

function child(root: JsonSchema, schemas: JsonSchema[], step: string): JsonSchema[] {
  return schemas.flatMap((schema) => {
    if (step === "-") return schema.items ? variants(root, schema.items) : [];
    const property = schema.properties?.[step];
    return property ? variants(root, property) : [];
  });
}

/** The path of keys ("-" for a list item) that leads to the line at `pos`. */
export function pathAt(text: string, pos: number): string[] {
  const lines = text.slice(0, pos).split("\n");
  const current = lines.pop() ?? "";
  let indent = current.length - current.trimStart().length;
  if (/^\s*-\s/.test(current)) indent = current.indexOf("-") + 2; // "- ke|": inside the item
  const path: string[] = [];
  if (/^\s*-\s/.test(current)) path.unshift("-");
  for (let i = lines.length - 1; i >= 0 && indent > 0; i--) {
    const line = lines[i];
    if (!line.trim() || line.trimStart().startsWith("#")) continue;
    const lineIndent = line.length - line.trimStart().length;
    const dash = /^(\s*)-\s+(.*)$/.exec(line);
    if (dash && dash[1].length < indent) {
      // "  - key: x": the item's keys sit at dash + 2
      if (dash[1].length + 2 <= indent && /^[\w-]+:/.test(dash[2]) && dash[1].length + 2 < indent) {
        path.unshift(dash[2].split(":")[0]);
      }
      path.unshift("-");
      indent = dash[1].length;
      continue;
    }
    if (lineIndent < indent) {
      const key = /^\s*([\w-]+):/.exec(line);
      if (key) path.unshift(key[1]);
      indent = lineIndent;
    }
  }
  return path;
}

/** The keys the schema allows at `pos`, with their descriptions. */
export function keysAt(root: JsonSchema, text: string, pos: number): { key: string; description: string }[] {
  let schemas = variants(root, root);
  for (const step of pathAt(text, pos)) schemas = child(root, schemas, step);
  const seen = new Map<string, string>();
  for (const schema of schemas) {
    for (const [key, property] of Object.entries(schema.properties ?? {})) {
      if (!seen.has(key)) seen.set(key, resolve(root, property).description ?? "");
    }
  }
  return [...seen].map(([key, description]) => ({ key, description }));
}
