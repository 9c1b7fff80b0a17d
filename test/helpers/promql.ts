const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression (a rule's, a panel's, or a `label_values()` call of a
 * Grafana variable) selects, and the label names it uses: enough of a parser to catch a name that
 * exists nowhere, not a PromQL validator (promtool and Prometheus are, in the tests that run them).
 */
export function namesIn(expr: string): { metrics: string[]; labels: string[] } {
  const labels: string[] = [];
  let e = expr.replace(/#.*$/gm, '');
  e = e.replace(/^label_values\((.*), *(\w+)\)$/s, (_, sel: string, label: string) => {
    labels.push(label);
    return sel;
  });
  e = e.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  e = e.replace(/\{([^}]*)\}/g, (_, body: string) => {
    for (const m of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.push(m[1] as string);
    return ' ';
  });
  e = e.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, list: string) => {
    labels.push(
      ...list
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean),
    );
    return ' ';
  });
  e = e.replace(/\[[^\]]*\]/g, ' ').replace(/\boffset\s+\S+/g, ' ');
  const metrics: string[] = [];
  for (const m of e.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const name = m[1] as string;
    if (m[2] === undefined && !KEYWORDS.has(name.toLowerCase())) metrics.push(name);
  }
  return { metrics, labels };
}
