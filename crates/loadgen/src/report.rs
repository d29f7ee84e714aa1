//! Ratios between targets and the human-readable tables (plain text or Markdown).

use serde::Serialize;

use crate::scenarios::ScenarioResult;

/// `target`'s figure divided by `baseline`'s (all main figures are "higher is better").
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub kind: &'static str,
    pub scenario: &'static str,
    pub metric: &'static str,
    pub target: String,
    pub baseline: String,
    pub ratio: f64,
    /// Server CPU per request of the target divided by the baseline's, when both known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_per_request_ratio: Option<f64>,
}

/// Ratios of every other target's result to the first target's, for one scenario.
pub fn ratios(results: &[&ScenarioResult]) -> Vec<Ratio> {
    let Some((base, rest)) = results.split_first() else {
        return Vec::new();
    };
    if !base.is_ok() || base.value <= 0.0 {
        return Vec::new();
    }
    rest.iter()
        .filter(|r| r.is_ok())
        .map(|r| Ratio {
            kind: "ratio",
            scenario: r.scenario,
            metric: r.metric,
            target: r.target.clone(),
            baseline: base.target.clone(),
            ratio: r.value / base.value,
            cpu_per_request_ratio: cpu(r)
                .zip(cpu(base))
                .filter(|(_, b)| *b > 0.0)
                .map(|(a, b)| a / b),
        })
        .collect()
}

fn cpu(r: &ScenarioResult) -> Option<f64> {
    r.server.as_ref().and_then(|s| s.cpu_ms_per_request)
}

/// A number with about three significant digits.
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Renders rows under headers, as a Markdown table or as aligned plain text.
pub fn render(headers: &[&str], rows: &[Vec<String>], markdown: bool) -> String {
    let cols = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        if markdown {
            format!("| {} |", padded.join(" | "))
        } else {
            padded.join("  ").trim_end().to_owned()
        }
    };
    let mut out = Vec::with_capacity(rows.len() + 2);
    out.push(line(headers.to_vec()));
    if markdown {
        let sep: Vec<String> = widths.iter().map(|w| "-".repeat((*w).max(3))).collect();
        out.push(format!(
            "|{}|",
            sep.iter()
                .map(|s| format!(" {s} "))
                .collect::<Vec<_>>()
                .join("|")
        ));
    } else {
        out.push(
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("  "),
        );
    }
    for row in rows {
        let mut cells: Vec<&str> = row.iter().map(String::as_str).collect();
        cells.resize(cols, "");
        out.push(line(cells));
    }
    out.join("\n") + "\n"
}

fn cell(r: Option<&&ScenarioResult>) -> String {
    match r {
        None => String::new(),
        Some(r) if r.is_ok() => fmt_num(r.value),
        Some(r) => r.status.to_owned(),
    }
}

/// One row per scenario: each target's main figure, then each ratio to the first.
pub fn summary_table(results: &[ScenarioResult], targets: &[String], markdown: bool) -> String {
    let mut scenarios: Vec<&'static str> = Vec::new();
    for r in results {
        if !scenarios.contains(&r.scenario) {
            scenarios.push(r.scenario);
        }
    }
    let mut headers: Vec<String> = vec!["scenario".into(), "unit".into()];
    headers.extend(targets.iter().cloned());
    if let Some((base, rest)) = targets.split_first() {
        headers.extend(rest.iter().map(|t| format!("{t} / {base}")));
    }
    let rows: Vec<Vec<String>> = scenarios
        .iter()
        .map(|s| {
            let of: Vec<Option<&ScenarioResult>> = targets
                .iter()
                .map(|t| results.iter().find(|r| r.scenario == *s && &r.target == t))
                .collect();
            let unit = of.iter().flatten().map(|r| r.metric).next().unwrap_or("");
            let mut row = vec![(*s).to_owned(), unit.to_owned()];
            row.extend(of.iter().map(|r| cell(r.as_ref())));
            if let Some(Some(base)) = of.first() {
                for r in of.iter().skip(1) {
                    let ratio = r
                        .filter(|r| r.is_ok() && base.is_ok() && base.value > 0.0)
                        .map(|r| format!("{}x", fmt_num(r.value / base.value)))
                        .unwrap_or_default();
                    row.push(ratio);
                }
            }
            row
        })
        .collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    render(&headers, &rows, markdown)
}

/// One row per result: latencies, errors, server CPU and memory.
pub fn detail_table(results: &[ScenarioResult], markdown: bool) -> String {
    let headers = [
        "scenario",
        "target",
        "result",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "ops",
        "errors",
        "server CPU ms/req",
        "RSS before/peak MiB",
        "note",
    ];
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let lat = |f: fn(&crate::stats::Summary) -> f64| {
                r.latency
                    .as_ref()
                    .map(|l| fmt_num(f(l)))
                    .unwrap_or_default()
            };
            let (cpu, rss) = match &r.server {
                Some(s) => (
                    s.cpu_ms_per_request.map(fmt_num).unwrap_or_default(),
                    format!(
                        "{}/{}",
                        s.rss_before_mib
                            .map(|m| format!("{m:.1}"))
                            .unwrap_or_default(),
                        format_args!("{:.1}", s.rss_peak_mib)
                    ),
                ),
                None => (String::new(), String::new()),
            };
            vec![
                r.scenario.to_owned(),
                r.target.clone(),
                if r.is_ok() {
                    format!("{} {}", fmt_num(r.value), r.metric)
                } else {
                    r.status.to_owned()
                },
                lat(|l| l.p50_ms),
                lat(|l| l.p99_ms),
                lat(|l| l.p999_ms),
                r.operations.to_string(),
                r.errors.to_string(),
                cpu,
                rss,
                r.note
                    .as_deref()
                    .map(|n| n.replace('|', "/").chars().take(120).collect())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    render(&headers, &rows, markdown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn result(
        scenario: &'static str,
        target: &str,
        value: f64,
        status: &'static str,
    ) -> ScenarioResult {
        ScenarioResult {
            kind: "result",
            scenario,
            target: target.into(),
            url: "http://127.0.0.1:1/".into(),
            status,
            note: None,
            metric: "req/s",
            value,
            seconds: 1.0,
            operations: 10,
            requests: 10,
            errors: 0,
            bytes: None,
            concurrency: 1,
            latency: None,
            server: None,
            extra: Map::new(),
        }
    }

    #[test]
    fn ratio_to_first_target() {
        let a = result("get-manifest", "ref", 100.0, "ok");
        let b = result("get-manifest", "berth", 250.0, "ok");
        let c = result("get-manifest", "pg", 0.0, "failed");
        let r = ratios(&[&a, &b, &c]);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].target, "berth");
        assert!((r[0].ratio - 2.5).abs() < 1e-12);
        assert!(ratios(&[&c, &a]).is_empty());
    }

    #[test]
    fn tables_render() {
        let results = vec![
            result("get-manifest", "ref", 100.0, "ok"),
            result("get-manifest", "berth", 250.0, "ok"),
            result("token", "ref", 0.0, "skipped"),
            result("token", "berth", 1234.0, "ok"),
        ];
        let names = vec!["ref".to_owned(), "berth".to_owned()];
        let md = summary_table(&results, &names, true);
        assert!(md.contains("| get-manifest | req/s | 100 "), "{md}");
        assert!(md.contains("2.50x"), "{md}");
        assert!(md.contains("skipped"), "{md}");
        let text = detail_table(&results, false);
        assert_eq!(text.lines().count(), 6);
    }

    #[test]
    fn number_format() {
        assert_eq!(fmt_num(1234.5), "1234");
        assert_eq!(fmt_num(12.345), "12.3");
        assert_eq!(fmt_num(1.2345), "1.23");
        assert_eq!(fmt_num(0.01234), "0.012");
    }
}
