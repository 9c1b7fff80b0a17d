// Generates grafana/dashboards/*.json from code with @grafana/grafana-foundation-sdk. Run it after
// changing a panel, a metric name (src/metrics/names.ts) or a rule (prometheus/rules/):
//   node scripts/dashboards.ts           (npm run dashboards) writes the files
//   node scripts/dashboards.ts --check   exits 1 when the committed files differ from what this makes
// test/grafana-dashboards.test.ts fails when they differ, and runs every query against a real Prometheus.
//
// How the queries count (see the header of prometheus/rules/tokenmeter.rules.yml):
// - Counters are read through rate() or increase(), which take process restarts as resets rather
//   than drops, then summed `by` the labels a panel shows: instance and job are summed away, so two
//   scraped processes add up instead of showing twice.
// - Where a recording rule computes what a panel shows (rates by provider and model over 5 minutes,
//   budget gauges combined over instances), the panel reads the rule. The rules sum away instance,
//   service type and operation, so those panels follow the provider and model filters only (their
//   descriptions say so); the panels over the dashboard's range read the raw counters and follow
//   every filter. A panel never adds a rule's series to raw ones.
// - Budget gauges are one process's view of a shared ledger: the rules take their max, never a sum.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as text from '@grafana/grafana-foundation-sdk/text';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { DEFAULT_THRESHOLDS } from '../src/budgets/limits.ts';
import type { MetricLabelOptions } from '../src/metrics/cardinality.ts';
import { LABEL, METRIC, prometheusName, SEMCONV, SEMCONV_PROVIDER } from '../src/metrics/names.ts';

const root = resolve(import.meta.dirname, '..');
const RULES_FILE = join(root, 'prometheus', 'rules', 'tokenmeter.rules.yml');
/** Where the dashboards go; grafana/provisioning/dashboards/tokenmeter.yml loads this folder. */
export const DASHBOARDS_DIR = join(root, 'grafana', 'dashboards');
/** The data source grafana/provisioning/datasources/prometheus.yml creates; the dashboards' default. */
export const DATASOURCE_UID = 'tokenmeter-prometheus';

// ---------------------------------------------------------------------------------------------
// Names: metrics from src/metrics/names.ts, recording rules and alerts from the rules file.

const rulesText = readFileSync(RULES_FILE, 'utf8');
const recorded = new Set([...rulesText.matchAll(/^\s*- record:\s*(\S+)/gm)].map((m) => m[1] as string));

/** A recording rule of prometheus/rules/tokenmeter.rules.yml; generating fails if it is not there. */
function rule(name: string): string {
  if (!recorded.has(name)) throw new Error(`recording rule ${name} is not in ${RULES_FILE}: rename it here too`);
  return name;
}
const RULE = {
  costRate5m: rule('tokenmeter:cost_usd:rate5m'),
  costRate1h: rule('tokenmeter:cost_usd:rate1h'),
  tokensRate5m: rule('tokenmeter:tokens:rate5m'),
  requestsRate5m: rule('tokenmeter:requests:rate5m'),
  errorsRate5m: rule('tokenmeter:request_errors:rate5m'),
  budgetUsed: rule('tokenmeter:budget_used:max'),
  budgetLimit: rule('tokenmeter:budget_limit:max'),
  budgetWarning: rule('tokenmeter:budget_warning_ratio:max'),
  budgetCritical: rule('tokenmeter:budget_critical_ratio:max'),
  budgetWindowEnd: rule('tokenmeter:budget_window_end_seconds:max'),
  budgetRatio: rule('tokenmeter:budget_usage:ratio'),
} as const;

/** The budget alerts of the rules file, by severity (the annotations show them). */
function budgetAlerts(): Record<'warning' | 'critical', string[]> {
  const out: Record<'warning' | 'critical', string[]> = { warning: [], critical: [] };
  for (const block of rulesText.split(/^\s*- (?=alert:|record:)/m)) {
    const name = /^alert:\s*(\S+)/.exec(block)?.[1];
    if (name === undefined || !name.startsWith('TokenmeterBudget')) continue;
    const severity = /severity:\s*(\w+)/.exec(block)?.[1];
    if (severity !== 'warning' && severity !== 'critical') throw new Error(`alert ${name} has no warning or critical severity`);
    out[severity].push(name);
  }
  if (out.warning.length === 0 || out.critical.length === 0) throw new Error(`no budget alerts of both severities in ${RULES_FILE}`);
  return out;
}

/** Semantic-convention attributes as Prometheus labels (`gen_ai.provider.name` → `gen_ai_provider_name`). */
const GENAI_PROVIDER = prometheusName(SEMCONV.providerName, false);
const GENAI_RESPONSE_MODEL = prometheusName(SEMCONV.responseModel, false);

// ---------------------------------------------------------------------------------------------
// Filters. Multi-value variables with `.*` for All, so every filter is a regex match.

const VARS = {
  provider: '$provider',
  model: '$model',
  serviceType: '$service_type',
  instance: '$instance',
} as const;
/** tokenmeter's own counters, as scraped: every filter. */
const RAW = `${LABEL.provider}=~"${VARS.provider}", ${LABEL.model}=~"${VARS.model}", ${LABEL.serviceType}=~"${VARS.serviceType}", instance=~"${VARS.instance}"`;
/** Recording rules keep provider and model (and the opt-in labels), not instance or service type. */
const RULED = `${LABEL.provider}=~"${VARS.provider}", ${LABEL.model}=~"${VARS.model}"`;
const RULED_NOTE = 'Follows the provider and model filters; the recording rule sums all instances and service types.';

const sel = (metric: string, filter: string, extra = ''): string => `${metric}{${extra === '' ? filter : `${filter}, ${extra}`}}`;
const by = (...labels: string[]): string => labels.join(', ');

/**
 * The GenAI duration histogram's buckets, with tokenmeter's `provider` and `model` labels put
 * back (its own labels are the conventions' `gen_ai.provider.name`, e.g. `gcp.gemini`, and
 * `gen_ai.response.model`), and only the calls the dashboard's filters select: the provider, model
 * and service type filters apply through tokenmeter's request counter of the same provider and
 * model. The provider map is SEMCONV_PROVIDER, the one the exporter uses.
 */
function durationBuckets(): string {
  let v = `rate(${METRIC.operationDuration}_bucket{instance=~"${VARS.instance}"}[$__rate_interval])`;
  v = `label_replace(${v}, "${LABEL.provider}", "$1", "${GENAI_PROVIDER}", "(.*)")`;
  for (const [id, semconv] of Object.entries(SEMCONV_PROVIDER)) {
    if (id !== semconv) v = `label_replace(${v}, "${LABEL.provider}", "${id}", "${GENAI_PROVIDER}", "${semconv.replaceAll('.', '\\\\.')}")`;
  }
  v = `label_replace(${v}, "${LABEL.model}", "$1", "${GENAI_RESPONSE_MODEL}", "(.*)")`;
  return `${v} and on (${by(LABEL.provider, LABEL.model)}) group by (${by(LABEL.provider, LABEL.model)}) (${sel(METRIC.requests, RAW)})`;
}
const quantile = (q: number, labels: string[]): string =>
  `histogram_quantile(${q}, sum by (${by('le', ...labels)}) (${durationBuckets()}))`;

// ---------------------------------------------------------------------------------------------
// Building blocks.

/** Grafana's reference to the `datasource` variable (not a JavaScript template). */
const DATASOURCE = { type: 'prometheus', uid: '$' + '{datasource}' };

/** A query: a range query unless `instant`; `table` for panels that show label columns. */
function q(expr: string, opts: { legend?: string; instant?: boolean; table?: boolean; refId?: string } = {}): prometheus.DataqueryBuilder {
  const b = new prometheus.DataqueryBuilder()
    .datasource(DATASOURCE)
    .expr(expr)
    .refId(opts.refId ?? 'A');
  if (opts.legend !== undefined) b.legendFormat(opts.legend);
  if (opts.instant) b.instant();
  else b.range();
  if (opts.table) b.format(prometheus.PromQueryFormat.Table);
  return b;
}

const thresholds = (steps: [number | null, string][]) =>
  new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps.map(([value, color]) => ({ value, color })));
/** Green below the default warning level, then yellow, orange at critical, red at the limit. */
const BUDGET_LEVELS = thresholds([
  [null, 'green'],
  [DEFAULT_THRESHOLDS.warning, 'yellow'],
  [DEFAULT_THRESHOLDS.critical, 'orange'],
  [1, 'red'],
]);

const legendTable = () =>
  new common.VizLegendOptionsBuilder()
    .displayMode(common.LegendDisplayMode.Table)
    .placement(common.LegendPlacement.Right)
    .showLegend(true)
    .calcs(['mean', 'lastNotNull']);

function series(title: string, description: string, targets: prometheus.DataqueryBuilder[], unit: string): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .targets(targets)
    .unit(unit)
    .min(0)
    .fillOpacity(10)
    .legend(legendTable())
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
}

function bars(title: string, description: string, target: prometheus.DataqueryBuilder, unit: string): bargauge.PanelBuilder {
  return new bargauge.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .withTarget(target)
    .unit(unit)
    .min(0)
    .orientation(common.VizOrientation.Horizontal)
    .displayMode(common.BarGaugeDisplayMode.Basic)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .thresholds(thresholds([[null, 'blue']]));
}

function single(title: string, description: string, target: prometheus.DataqueryBuilder, unit: string): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .withTarget(target)
    .unit(unit)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .thresholds(thresholds([[null, 'text']]));
}

/** A table of instant queries joined on their labels; `columns` renames each query's value column. */
function joined(title: string, description: string, columns: { refId: string; name: string; expr: string }[]): table.PanelBuilder {
  // Grafana names a table query's value column `Value #<refId>`, or `Value` when it is the only query.
  const rename: Record<string, string> = columns.length === 1 ? { Value: columns[0]?.name ?? '' } : {};
  for (const c of columns) rename[`Value #${c.refId}`] = c.name;
  return new table.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .targets(columns.map((c) => q(c.expr, { instant: true, table: true, refId: c.refId })))
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({ id: 'organize', options: { excludeByName: { Time: true }, renameByName: rename } });
}

const textPanel = (title: string, content: string) =>
  new text.PanelBuilder().title(title).mode(text.TextMode.Markdown).content(content).transparent(true);

/** The data source and the filters every dashboard has. */
function variables(): cog.Builder<dashboard.VariableModel>[] {
  const values = (name: string, label: string, metric: string, filter: string, description: string) =>
    new dashboard.QueryVariableBuilder(name)
      .label(label)
      .description(description)
      .datasource(DATASOURCE)
      .query(`label_values(${metric}${filter}, ${name})`)
      .definition(`label_values(${metric}${filter}, ${name})`)
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      .allValue('.*')
      .current({ text: ['All'], value: ['$__all'] });
  return [
    new dashboard.DatasourceVariableBuilder('datasource')
      .label('Data source')
      .type('prometheus')
      .current({ text: 'Prometheus', value: DATASOURCE_UID }),
    values(LABEL.provider, 'Provider', METRIC.requests, '', 'Provider ids as tokenmeter records them (openai, anthropic, gemini...).'),
    values(LABEL.model, 'Model', METRIC.requests, `{${LABEL.provider}=~"${VARS.provider}"}`, 'Models of the selected providers.'),
    values(
      LABEL.serviceType,
      'Service type',
      METRIC.requests,
      `{${LABEL.provider}=~"${VARS.provider}"}`,
      'llm, embedding or reranking. Panels read from recording rules do not follow it (their descriptions say so).',
    ),
    values(
      'instance',
      'Instance',
      METRIC.internalErrors,
      '',
      'The scraped processes. Panels sum over the selected ones; those read from recording rules sum over all.',
    ),
  ];
}

/** The budget alerts of the rules file, as annotations from Prometheus's ALERTS series. */
function alertAnnotations(): cog.Builder<dashboard.AnnotationQuery>[] {
  const alerts = budgetAlerts();
  const annotation = (name: string, names: string[], color: string) =>
    new dashboard.AnnotationQueryBuilder()
      .name(name)
      .datasource(DATASOURCE)
      .enable(true)
      .iconColor(color)
      .expr(`ALERTS{alertname=~"${names.join('|')}", alertstate="firing"}`)
      .step('60s')
      .titleFormat('{{alertname}}')
      .textFormat('{{scope}} budget "{{scope_id}}" ({{window}}, {{unit}}): {{budget}}')
      .tagKeys('severity,scope,scope_id');
  return [annotation('Budget warnings', alerts.warning, 'yellow'), annotation('Budget critical', alerts.critical, 'red')];
}

function board(uid: string, title: string, description: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['tokenmeter', 'llm', 'cost'])
    .editable()
    .time({ from: 'now-24h', to: 'now' })
    .refresh('1m')
    .timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .variables(variables())
    .annotations(alertAnnotations())
    .link(
      // The other tokenmeter dashboard, with the same time range and filters.
      new dashboard.DashboardLinkBuilder('tokenmeter')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags(['tokenmeter'])
        .asDropdown(false)
        .keepTime(true)
        .includeVars(true),
    );
}

// ---------------------------------------------------------------------------------------------
// The overview.

function overview(): dashboard.DashboardBuilder {
  const cost = (extra = '') => sel(METRIC.cost, RAW, extra);
  const requests = (extra = '') => sel(METRIC.requests, RAW, extra);
  const forecast = `(${RULE.budgetUsed} + deriv(${RULE.budgetUsed}[1h]) * (${RULE.budgetWindowEnd} - time())) / (${RULE.budgetLimit} > 0)`;
  const budgetLegend = `{{${LABEL.budget}}} {{${LABEL.scopeId}}} ({{${LABEL.window}}}, {{${LABEL.unit}}})`;
  const unpriced = sel(METRIC.unpriced, RAW);

  return board(
    'tokenmeter-overview',
    'tokenmeter / Overview',
    'Spend, tokens, calls, errors, latency and budgets of every process tokenmeter meters.',
  )
    .withRow(new dashboard.RowBuilder('Spend'))
    .withPanel(
      single(
        'Spend over the range',
        'USD spent in the selected time range, all selected instances summed (increase() of tokenmeter_cost_usd_total, so restarts do not lose spend). Calls of unpriced models add nothing: see "Unpriced models in use".',
        q(`sum(increase(${cost()}[$__range]))`, { instant: true }),
        'currencyUSD',
      )
        .decimals(2)
        .span(6)
        .height(4),
    )
    .withPanel(
      single(
        'Spend in the last hour',
        `USD spent in the last hour (${RULE.costRate1h}). ${RULED_NOTE}`,
        q(`sum(${sel(RULE.costRate1h, RULED)})`, { instant: true }),
        'currencyUSD',
      )
        .decimals(2)
        .span(6)
        .height(4),
    )
    .withPanel(
      single(
        'Calls over the range',
        'LLM, embedding and rerank calls in the selected time range.',
        q(`sum(increase(${requests()}[$__range]))`, { instant: true }),
        'short',
      )
        .decimals(0)
        .span(6)
        .height(4),
    )
    .withPanel(
      single(
        'Failed calls over the range',
        'The share of calls in the selected time range that failed.',
        q(`(sum(increase(${requests(`${LABEL.status}="error"`)}[$__range])) or vector(0)) / sum(increase(${requests()}[$__range]))`, {
          instant: true,
        }),
        'percentunit',
      )
        .decimals(1)
        .span(6)
        .height(4)
        .thresholds(
          thresholds([
            [null, 'green'],
            [0.05, 'yellow'],
            [0.1, 'red'],
          ]),
        )
        .colorMode(common.BigValueColorMode.Value),
    )
    .withPanel(
      series(
        'Spend rate by provider',
        `USD per hour, at the pace of the last 5 minutes (${RULE.costRate5m}). ${RULED_NOTE}`,
        [q(`sum by (${LABEL.provider}) (${sel(RULE.costRate5m, RULED)})`, { legend: `{{${LABEL.provider}}}` })],
        'currencyUSD',
      ).axisLabel('USD / hour'),
    )
    .withPanel(
      series(
        'Spend rate by model',
        `USD per hour, at the pace of the last 5 minutes (${RULE.costRate5m}). ${RULED_NOTE}`,
        [
          q(`sum by (${by(LABEL.provider, LABEL.model)}) (${sel(RULE.costRate5m, RULED)})`, {
            legend: `{{${LABEL.provider}}} {{${LABEL.model}}}`,
          }),
        ],
        'currencyUSD',
      ).axisLabel('USD / hour'),
    )
    .withPanel(
      bars(
        'Spend over the range by provider',
        'USD spent in the selected time range, by provider.',
        q(`sort_desc(sum by (${LABEL.provider}) (increase(${cost()}[$__range])))`, { instant: true, legend: `{{${LABEL.provider}}}` }),
        'currencyUSD',
      ).decimals(2),
    )
    .withPanel(
      bars(
        'Spend over the range by model',
        'USD spent in the selected time range, by model.',
        q(`sort_desc(sum by (${by(LABEL.provider, LABEL.model)}) (increase(${cost()}[$__range])))`, {
          instant: true,
          legend: `{{${LABEL.provider}}} {{${LABEL.model}}}`,
        }),
        'currencyUSD',
      ).decimals(2),
    )

    .withRow(new dashboard.RowBuilder('Tokens, calls and latency'))
    .withPanel(
      series(
        'Tokens by type',
        `Tokens per second by type (${RULE.tokensRate5m}). input counts all prompt tokens, cached_input and cache_write included; output includes reasoning. ${RULED_NOTE}`,
        [q(`sum by (${LABEL.tokenType}) (${sel(RULE.tokensRate5m, RULED)})`, { legend: `{{${LABEL.tokenType}}}` })],
        'short',
      ).axisLabel('tokens / s'),
    )
    .withPanel(
      bars(
        'Tokens over the range by type',
        'Tokens in the selected time range by type (input includes cached_input and cache_write; output includes reasoning).',
        q(`sum by (${LABEL.tokenType}) (increase(${sel(METRIC.tokens, RAW)}[$__range]))`, {
          instant: true,
          legend: `{{${LABEL.tokenType}}}`,
        }),
        'short',
      ).decimals(0),
    )
    .withPanel(
      series(
        'Calls by provider',
        `Calls per second (${RULE.requestsRate5m}). ${RULED_NOTE}`,
        [q(`sum by (${LABEL.provider}) (${sel(RULE.requestsRate5m, RULED)})`, { legend: `{{${LABEL.provider}}}` })],
        'reqps',
      ),
    )
    .withPanel(
      series(
        'Error ratio by provider',
        `The share of calls that failed over the last 5 minutes: failed calls over all calls, each summed by provider before dividing (${RULE.errorsRate5m} / ${RULE.requestsRate5m}). A provider with no failure shows 0. ${RULED_NOTE}`,
        [
          q(
            `(sum by (${LABEL.provider}) (${sel(RULE.errorsRate5m, RULED)}) or 0 * sum by (${LABEL.provider}) (${sel(RULE.requestsRate5m, RULED)})) / sum by (${LABEL.provider}) (${sel(RULE.requestsRate5m, RULED)})`,
            { legend: `{{${LABEL.provider}}}` },
          ),
        ],
        'percentunit',
      )
        .max(1)
        .thresholds(
          thresholds([
            [null, 'green'],
            [0.1, 'red'],
          ]),
        )
        .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed)),
    )
    .withPanel(
      series(
        'Latency: p50, p95, p99',
        `Call duration from the GenAI semantic-convention histogram ${METRIC.operationDuration} (seconds, the conventions' buckets), all selected calls together. Follows every filter.`,
        [
          q(quantile(0.5, []), { legend: 'p50', refId: 'A' }),
          q(quantile(0.95, []), { legend: 'p95', refId: 'B' }),
          q(quantile(0.99, []), { legend: 'p99', refId: 'C' }),
        ],
        's',
      ),
    )
    .withPanel(
      series(
        'p95 latency by provider',
        `95th percentile of call duration by provider, from ${METRIC.operationDuration}. Follows every filter.`,
        [q(quantile(0.95, [LABEL.provider]), { legend: `{{${LABEL.provider}}}` })],
        's',
      ),
    )

    .withRow(new dashboard.RowBuilder('Budgets'))
    .withPanel(
      series(
        'Budget use',
        `Each budget's use as a share of its limit (${RULE.budgetRatio}; 100% = the limit). Lines at the default warning (${DEFAULT_THRESHOLDS.warning * 100}%) and critical (${DEFAULT_THRESHOLDS.critical * 100}%) levels; a budget with its own levels shows them in the table beside. Budgets come from the ledger, not from the filters above.`,
        [q(RULE.budgetRatio, { legend: budgetLegend })],
        'percentunit',
      )
        .thresholds(BUDGET_LEVELS)
        .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed))
        .noValue('No budget: set one in config.json ("budgets") or with `tokenmeter set-limit`'),
    )
    .withPanel(
      joined(
        'Budgets now',
        `Each budget: used and limit (USD or tokens, see unit), share used, its warning and critical levels, when its window resets (empty for rolling windows and runs), and the share of the limit it will have used then at the last hour's pace (the TokenmeterBudgetForecastOverrun alert fires above 100%).`,
        [
          { refId: 'A', name: 'Used', expr: RULE.budgetUsed },
          { refId: 'B', name: 'Limit', expr: RULE.budgetLimit },
          { refId: 'C', name: 'Share used', expr: RULE.budgetRatio },
          { refId: 'D', name: 'Warning at', expr: RULE.budgetWarning },
          { refId: 'E', name: 'Critical at', expr: RULE.budgetCritical },
          { refId: 'F', name: 'Window resets', expr: `${RULE.budgetWindowEnd} * 1000` },
          { refId: 'G', name: 'Forecast at reset', expr: forecast },
        ],
      )
        .overrideByName('Share used', [
          { id: 'unit', value: 'percentunit' },
          { id: 'thresholds', value: BUDGET_LEVELS.build() },
          { id: 'custom.cellOptions', value: { type: 'color-background' } },
        ])
        .overrideByName('Warning at', [{ id: 'unit', value: 'percentunit' }])
        .overrideByName('Critical at', [{ id: 'unit', value: 'percentunit' }])
        .overrideByName('Forecast at reset', [
          { id: 'unit', value: 'percentunit' },
          { id: 'thresholds', value: BUDGET_LEVELS.build() },
          { id: 'custom.cellOptions', value: { type: 'color-text' } },
        ])
        .overrideByName('Window resets', [{ id: 'unit', value: 'dateTimeAsIso' }])
        .sortBy([new common.TableSortByFieldStateBuilder().displayName('Share used').desc(true)])
        .noValue('No budget: set one in config.json ("budgets") or with `tokenmeter set-limit`'),
    )
    .withPanel(
      series(
        "Forecast at the window's end",
        `The share of its limit each budget will have used when its window resets, at the last hour's pace (the expression of the TokenmeterBudgetForecastOverrun alert). Only budgets whose window resets at a set time (daily, monthly).`,
        [q(forecast, { legend: budgetLegend })],
        'percentunit',
      )
        .thresholds(BUDGET_LEVELS)
        .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed))
        .noValue('No daily or monthly budget'),
    )

    .withRow(new dashboard.RowBuilder('Data quality'))
    .withPanel(
      joined(
        'Unpriced models in use',
        'Models called in the selected time range that have no known price: their cost counts as unknown, not zero, and is left out of spend and budgets. Run `tokenmeter pricing <model> --provider <provider>`, then add a price in config.json. (A series that appeared during the range counts whole, so a model called once still shows.)',
        [
          {
            refId: 'A',
            name: 'Unpriced calls',
            expr: `sum by (${by(LABEL.provider, LABEL.model)}) (increase(${unpriced}[$__range])) > 0 or sum by (${by(LABEL.provider, LABEL.model)}) (${unpriced} unless ${unpriced} offset $__range) > 0`,
          },
        ],
      )
        .overrideByName('Unpriced calls', [{ id: 'decimals', value: 0 }])
        .noValue('Every model in use has a price'),
    )
    .withPanel(
      series(
        'tokenmeter internal errors',
        'Failures inside tokenmeter itself, per minute, by component (record, ledger, otlp, budget_gauges...). The metered calls were not affected; `GET /health` and the logs say more.',
        [
          q(`sum by (${LABEL.component}) (rate(${METRIC.internalErrors}{instance=~"${VARS.instance}"}[$__rate_interval])) * 60`, {
            legend: `{{${LABEL.component}}}`,
          }),
        ],
        'short',
      )
        .axisLabel('errors / min')
        .thresholds(
          thresholds([
            [null, 'green'],
            [0.000001, 'red'],
          ]),
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// The callers: the opt-in labels.

/** Each opt-in label, the metrics option that turns it on (typed: a renamed option fails the build), and `summary --by`. */
const OPT_IN = {
  [LABEL.agent]: { option: 'agent', by: 'agent' },
  [LABEL.userId]: { option: 'userId', by: 'user' },
  [LABEL.threadId]: { option: 'threadId', by: 'thread' },
  [LABEL.apiKeyId]: { option: 'apiKeyId', by: 'key' },
} as const satisfies Record<string, { option: keyof MetricLabelOptions; by: string }>;
/**
 * What a panel of an opt-in label says when it has no series: the option that turns the label on
 * (MetricLabelOptions in src/metrics/aggregator.ts; README, Metrics), and the CLI that reads the
 * ledger, which has every label whatever the option.
 */
const turnOn = (label: keyof typeof OPT_IN): string =>
  `No series with the ${label} label. It is off by default: turn it on with new TokenMonitor({ metrics: { labels: { ${OPT_IN[label].option}: true } } }), or ask the ledger: tokenmeter summary --by ${OPT_IN[label].by}`;

function callers(): dashboard.DashboardBuilder {
  const nearest = `topk(20, ${RULE.budgetRatio}{${LABEL.scope}="user"})`;
  const top = (label: keyof typeof OPT_IN, title: string) =>
    bars(
      title,
      `USD spent in the selected time range by the top 10 values of ${label}. ${turnOn(label)}.`,
      q(`topk(10, sum by (${label}) (increase(${sel(METRIC.cost, RAW, `${label}!=""`)}[$__range])))`, {
        instant: true,
        legend: `{{${label}}}`,
      }),
      'currencyUSD',
    )
      .decimals(2)
      .noValue(turnOn(label));

  return board(
    'tokenmeter-callers',
    'tokenmeter / Agents, users, threads and keys',
    'Spend by the opt-in labels (agent, user_id, thread_id, api_key_id) and the users closest to their budgets.',
  )
    .withPanel(
      textPanel(
        'These labels are off by default',
        [
          'The `agent`, `user_id`, `thread_id` and `api_key_id` labels are **off by default** (cardinality and privacy); every record keeps them in the ledger either way. Turn on the ones you need where the monitor is created:',
          '',
          '```ts',
          'new TokenMonitor({ metrics: { labels: { agent: true, userId: true, threadId: true, apiKeyId: true } } })',
          '```',
          '',
          'Each label keeps at most `metrics.maxValuesPerLabel` values (default 100); later ones show as `_other`. For every user or thread in full, ask the ledger: `tokenmeter summary --by user`, or the REST API `GET /v1/users/:id`. A panel that says a label is off has no series with it.',
        ].join('\n'),
      )
        .span(24)
        .height(5),
    )
    .withPanel(top(LABEL.agent, 'Top agents by spend').span(12))
    .withPanel(top(LABEL.userId, 'Top users by spend').span(12))
    .withPanel(top(LABEL.threadId, 'Top threads by spend').span(12))
    .withPanel(top(LABEL.apiKeyId, 'Top API keys by spend').span(12))
    .withPanel(
      series(
        'Spend rate by agent',
        `USD per hour by agent, at the pace of the last 5 minutes (${RULE.costRate5m}). ${RULED_NOTE} ${turnOn(LABEL.agent)}.`,
        [q(`sum by (${LABEL.agent}) (${sel(RULE.costRate5m, RULED, `${LABEL.agent}!=""`)})`, { legend: `{{${LABEL.agent}}}` })],
        'currencyUSD',
      )
        .axisLabel('USD / hour')
        .span(24)
        .noValue(turnOn(LABEL.agent)),
    )
    .withPanel(
      series(
        'Calls by agent',
        `Calls per second by agent (${RULE.requestsRate5m}). ${RULED_NOTE} ${turnOn(LABEL.agent)}.`,
        [q(`sum by (${LABEL.agent}) (${sel(RULE.requestsRate5m, RULED, `${LABEL.agent}!=""`)})`, { legend: `{{${LABEL.agent}}}` })],
        'reqps',
      ).noValue(turnOn(LABEL.agent)),
    )
    .withPanel(
      series(
        'Spend rate by user (top 10)',
        `USD per hour of the 10 users spending most at each moment (${RULE.costRate5m}). ${RULED_NOTE} ${turnOn(LABEL.userId)}.`,
        [
          q(`topk(10, sum by (${LABEL.userId}) (${sel(RULE.costRate5m, RULED, `${LABEL.userId}!=""`)}))`, {
            legend: `{{${LABEL.userId}}}`,
          }),
        ],
        'currencyUSD',
      )
        .axisLabel('USD / hour')
        .noValue(turnOn(LABEL.userId)),
    )
    .withPanel(
      joined(
        'Users nearest their budgets',
        'The 20 users\' budgets with the largest share used (scope user: a budget for one user, or each user\'s share of a per-user `user:*` budget). Budgets come from the ledger and need no metric label. None? Add one to config.json: "budgets": [{ "scope": "user", "id": "*", "limit_usd": 2, "billing_cycle": "daily" }].',
        [
          { refId: 'A', name: 'Share used', expr: nearest },
          // The same 20 budgets (`and` matches on every label: the ratio keeps the budget's).
          { refId: 'B', name: 'Used', expr: `${RULE.budgetUsed}{${LABEL.scope}="user"} and ${nearest}` },
          { refId: 'C', name: 'Limit', expr: `${RULE.budgetLimit}{${LABEL.scope}="user"} and ${nearest}` },
        ],
      )
        .overrideByName('Share used', [
          { id: 'unit', value: 'percentunit' },
          { id: 'thresholds', value: BUDGET_LEVELS.build() },
          { id: 'custom.cellOptions', value: { type: 'color-background' } },
        ])
        .sortBy([new common.TableSortByFieldStateBuilder().displayName('Share used').desc(true)])
        .span(24)
        .noValue('No user budget: add one to config.json, e.g. "budgets": [{ "scope": "user", "id": "*", "limit_usd": 2 }]'),
    );
}

// ---------------------------------------------------------------------------------------------

/** Every dashboard: its file name under grafana/dashboards/ and its JSON text. */
export function renderDashboards(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [file, builder] of [
    ['tokenmeter-overview.json', overview()],
    ['tokenmeter-callers.json', callers()],
  ] as const) {
    const built = builder.build();
    // The SDK puts annotation toggles and links in the controls menu by default; Grafana's own
    // default (no placement) shows them above the panels, where the budget alerts' toggles belong.
    for (const a of built.annotations?.list ?? []) delete a.placement;
    for (const l of built.links ?? []) delete l.placement;
    out.set(file, `${JSON.stringify(built, null, 2)}\n`);
  }
  return out;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [file, json] of renderDashboards()) {
    const path = join(DASHBOARDS_DIR, file);
    if (check) {
      let committed = '';
      try {
        committed = readFileSync(path, 'utf8');
      } catch {}
      if (committed !== json) {
        stale++;
        console.error(`${path} differs from what scripts/dashboards.ts makes: run npm run dashboards`);
      }
    } else {
      writeFileSync(path, json);
      console.log(`wrote ${path}`);
    }
  }
  if (stale > 0) process.exit(1);
}
