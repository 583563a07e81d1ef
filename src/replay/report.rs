//! The replay as one self-contained HTML page (`keyward replay --report FILE`): totals, keyward's
//! decisions over time, the most denied principals, keys and actions as charts, the
//! disagreements with AWS and, with a second world, the decisions that change, grouped and
//! filterable.
//!
//! The page needs no network: styles, charts (SVG written here) and the small filter script are
//! inline, and its Content-Security-Policy forbids loading anything. Every string that comes from
//! a record is attacker-controlled text; all of them pass through [`escape`], and are clipped so
//! that one huge field cannot blow up the page. Lists are capped ([`ROWS`] rows a table, the
//! [`TOP`] most denied) and the page says how many it left out, so its size stays bounded however
//! large the replay.

use super::diff::{Change, Changes};
use super::read::Input;
use super::run::{top, Summary, OUTCOMES, TOP};
use super::time::format_time;
use super::At;
use crate::decision::{Decision, Outcome};
use crate::engine::Engine;
use std::collections::HashMap;
use std::fmt::Write as _;

/// Most rows in each table of the page.
pub const ROWS: usize = 500;

/// Most bars in the decisions-over-time chart.
const BUCKETS: i64 = 120;

/// Longest record-derived text shown (in characters); longer text is cut with `…`.
const CLIP: usize = 240;

/// What the page says about where its data came from.
pub struct Names<'a> {
    /// The world decided against (`--world`).
    pub world: &'a str,
    /// The second world (`--against`), if any.
    pub against: Option<&'a str>,
}

/// The report page for a replay. `files` names the inputs; `world` and `against` are the
/// engines the replay used (for the explanations of changed decisions).
pub fn render(
    summary: &Summary,
    files: &[Input],
    world: &Engine,
    against: Option<&Engine>,
    names: &Names<'_>,
) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let p = &mut page;
    p.push_str(HEAD);
    let _ = write!(
        p,
        "<header><h1>keyward replay report</h1><p class=\"sub\">{} against <code>{}</code>",
        plural(files.len() as u64, "input"),
        escape(&clip(names.world, CLIP))
    );
    if let Some(a) = names.against {
        let _ = write!(p, ", compared with <code>{}</code>", escape(&clip(a, CLIP)));
    }
    if let (Some(first), Some(last)) = (
        summary.timeline.keys().next(),
        summary.timeline.keys().next_back(),
    ) {
        let _ = write!(
            p,
            " · events from {} to {}",
            minute_label(*first),
            minute_label(*last + 1)
        );
    }
    p.push_str("</p></header>\n<main>\n");
    totals(p, summary);
    timeline(p, summary);
    most_denied(p, summary);
    disagreements(p, summary, files);
    if let (Some(changes), Some(after)) = (&summary.changes, against) {
        changed(p, changes, files, world, after);
    }
    bad_records(p, summary, files);
    p.push_str("</main>\n<script>\n");
    p.push_str(SCRIPT);
    p.push_str("</script>\n</body>\n</html>\n");
    page
}

/// Text safe in HTML content and in quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `text`, the rest replaced by `…`.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// At most `max` characters from the end of `text` (file paths: the name matters most).
fn clip_start(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_owned();
    }
    let skip = text.char_indices().nth(n - max).map_or(0, |(i, _)| i);
    format!("…{}", &text[skip..])
}

/// Clipped and escaped: how every record-derived string enters the page.
fn shown(text: &str) -> String {
    escape(&clip(text, CLIP))
}

fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `2026-05-04 09:10 UTC` for an epoch minute.
fn minute_label(minute: i64) -> String {
    let t = format_time(minute.saturating_mul(60));
    format!("{} {} UTC", &t[..10], &t[11..16])
}

/// The CSS class of an outcome's colour.
fn class(o: Outcome) -> &'static str {
    match o {
        Outcome::Allow => "allow",
        Outcome::ExplicitDeny => "explicit",
        Outcome::ImplicitDeny => "implicit",
    }
}

/// A figure of the totals: its key for scripts, its label, its value.
type Figure = (&'static str, &'static str, u64);

/// The totals as labelled figures, each cell marked with `data-total` for scripts.
fn totals(p: &mut String, s: &Summary) {
    let other_errors: u64 = s.recorded_failed.values().sum();
    let mut groups: Vec<(&str, Vec<Figure>)> = vec![
        (
            "Records",
            vec![
                ("records", "records read", s.records),
                ("kms_records", "KMS records", s.records - s.skipped_non_kms),
                ("skipped_non_kms", "other services", s.skipped_non_kms),
                (
                    "skipped_not_authorization",
                    "KMS, not authorizations",
                    s.skipped_not_authorization(),
                ),
                ("bad_records", "bad records", s.bad_records()),
                ("evaluated", "decided", s.evaluated),
            ],
        ),
        (
            "keyward decided",
            vec![
                ("Allow", "Allow", s.decisions[0]),
                ("ExplicitDeny", "ExplicitDeny", s.decisions[1]),
                ("ImplicitDeny", "ImplicitDeny", s.decisions[2]),
            ],
        ),
        (
            "AWS recorded",
            vec![
                ("recorded_allowed", "allowed", s.recorded_allowed),
                ("recorded_denied", "denied", s.recorded_denied),
                ("other_error", "other errors", other_errors),
            ],
        ),
        (
            "Agreement with AWS",
            vec![
                ("agreements", "agree", s.agreements),
                ("disagreements", "disagree", s.disagreements),
                ("not_compared", "not compared", s.not_compared()),
            ],
        ),
    ];
    if let Some(c) = &s.changes {
        groups.push((
            "Changed by the second world",
            vec![
                ("changed", "changed", c.changed()),
                ("allow_to_deny", "allow → deny", c.allow_to_deny),
                ("deny_to_allow", "deny → allow", c.deny_to_allow),
            ],
        ));
    }
    p.push_str("<section id=\"totals\"><h2>Totals</h2><div class=\"cards\">\n");
    for (title, figures) in groups {
        let _ = write!(p, "<table class=\"card\"><caption>{title}</caption><tbody>");
        for (key, label, n) in figures {
            let flag = match key {
                "disagreements" | "bad_records" | "changed" if n > 0 => " class=\"flag\"",
                _ => "",
            };
            let _ = write!(
                p,
                "<tr{flag}><th>{label}</th><td data-total=\"{key}\">{n}</td></tr>"
            );
        }
        p.push_str("</tbody></table>\n");
    }
    p.push_str("</div>\n");
    let lists = [
        (
            "KMS records that are not authorizations",
            s.skipped
                .iter()
                .map(|(k, n)| (k.as_str(), *n))
                .collect::<Vec<_>>(),
        ),
        (
            "Other error codes AWS recorded",
            s.recorded_failed
                .iter()
                .map(|(k, n)| (k.as_str(), *n))
                .collect(),
        ),
        (
            "Bad records by kind",
            s.bad_by_kind.iter().map(|(k, n)| (k.code(), *n)).collect(),
        ),
    ];
    for (title, items) in lists {
        if items.is_empty() {
            continue;
        }
        let _ = write!(p, "<details><summary>{title}</summary><ul>");
        for (what, n) in items.iter().take(ROWS) {
            let _ = write!(p, "<li><b>{n}</b> {}</li>", shown(what));
        }
        if items.len() > ROWS {
            let _ = write!(p, "<li>… and {} more</li>", items.len() - ROWS);
        }
        p.push_str("</ul></details>\n");
    }
    p.push_str("</section>\n");
}

/// The width of a bar of the timeline, in minutes: a round width that keeps the bars at most
/// [`BUCKETS`].
fn bucket_width(span_minutes: i64) -> i64 {
    const WIDTHS: [i64; 11] = [1, 5, 15, 30, 60, 180, 360, 720, 1440, 10080, 43200];
    WIDTHS
        .into_iter()
        .find(|w| ceil_div(span_minutes, *w) <= BUCKETS)
        .unwrap_or_else(|| ceil_div(span_minutes, BUCKETS))
}

/// `a / b` rounded up, for positive `b`.
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1).div_euclid(b)
}

/// Keyward's decisions over time as stacked columns, one `g.bucket` per non-empty bar.
fn timeline(p: &mut String, s: &Summary) {
    p.push_str("<section id=\"timeline\"><h2>Decisions over time</h2>\n");
    let (Some(&first), Some(&last)) = (s.timeline.keys().next(), s.timeline.keys().next_back())
    else {
        p.push_str("<p class=\"empty\">No decided record carries a date and time.</p></section>\n");
        return;
    };
    let width = bucket_width(last - first + 1);
    let start = first - first.rem_euclid(width);
    let n = (last - start) / width + 1;
    let mut buckets: Vec<[u64; 3]> = vec![[0; 3]; n as usize];
    for (minute, counts) in &s.timeline {
        let b = &mut buckets[((minute - start) / width) as usize];
        for i in 0..3 {
            b[i] += counts[i];
        }
    }
    let max = buckets
        .iter()
        .map(|b| b.iter().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let (w, h, left, bottom, top_pad) = (900.0, 240.0, 48.0, 28.0, 10.0);
    let plot_w = w - left - 8.0;
    let plot_h = h - bottom - top_pad;
    // A few bars are drawn at most as wide as one of twelve, not across the whole chart.
    let bar = plot_w / n.max(12) as f64;
    let _ = write!(
        p,
        "<p class=\"note\">Each bar is {} of <code>eventTime</code>; bars stack Allow, ExplicitDeny and ImplicitDeny.",
        duration(width)
    );
    if s.undated > 0 {
        let _ = write!(
            p,
            " {} without a date and time are not shown.",
            plural(s.undated, "decided record")
        );
    }
    p.push_str("</p>\n");
    legend(p);
    let _ = write!(
        p,
        "<svg id=\"chart-time\" class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"decisions over time\">"
    );
    let base = top_pad + plot_h;
    let _ = write!(
        p,
        "<line class=\"axis\" x1=\"{left}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\"/><line class=\"axis\" x1=\"{left}\" y1=\"{top_pad}\" x2=\"{left}\" y2=\"{base}\"/>",
        w - 8.0
    );
    let _ = write!(
        p,
        "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{max}</text><text class=\"tick\" x=\"{}\" y=\"{base}\" text-anchor=\"end\">0</text>",
        left - 4.0,
        top_pad + 8.0,
        left - 4.0
    );
    for (i, b) in buckets.iter().enumerate() {
        let total: u64 = b.iter().sum();
        if total == 0 {
            continue;
        }
        let t = start + i as i64 * width;
        let x = left + i as f64 * bar;
        let _ = write!(
            p,
            "<g class=\"bucket\" data-start=\"{}\" data-allow=\"{}\" data-explicit=\"{}\" data-implicit=\"{}\"><title>from {}: {total} decided ({} Allow, {} ExplicitDeny, {} ImplicitDeny)</title>",
            format_time(t * 60),
            b[0],
            b[1],
            b[2],
            minute_label(t),
            b[0],
            b[1],
            b[2]
        );
        let mut y = base;
        for (k, o) in OUTCOMES.iter().enumerate() {
            if b[k] == 0 {
                continue;
            }
            let bh = plot_h * b[k] as f64 / max as f64;
            y -= bh;
            let _ = write!(
                p,
                "<rect class=\"{}\" x=\"{x:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{bh:.2}\"/>",
                class(*o),
                (bar * 0.85).max(1.0)
            );
        }
        p.push_str("</g>");
    }
    // Time labels (about 130 units wide) at the first bar, the middle and the last, where they
    // fit without overlapping.
    let drawn = n as f64 * bar;
    let mut ticks = vec![0];
    if n > 2 && drawn >= 600.0 {
        ticks.push((n - 1) / 2);
    }
    if n > 1 && drawn >= 280.0 {
        ticks.push(n - 1);
    }
    for (j, i) in ticks.iter().enumerate() {
        let anchor = match j {
            0 => "start",
            _ if j == ticks.len() - 1 => "end",
            _ => "middle",
        };
        let x = match anchor {
            "start" => left,
            "end" => left + (*i + 1) as f64 * bar,
            _ => left + (*i as f64 + 0.5) * bar,
        };
        let _ = write!(
            p,
            "<text class=\"tick\" x=\"{x:.2}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            h - 8.0,
            minute_label(start + i * width)
        );
    }
    p.push_str("</svg></section>\n");
}

/// `5 minutes`, `1 hour`, `7 days` for a width in minutes.
fn duration(minutes: i64) -> String {
    if minutes % 1440 == 0 {
        plural((minutes / 1440) as u64, "day")
    } else if minutes % 60 == 0 {
        plural((minutes / 60) as u64, "hour")
    } else {
        plural(minutes as u64, "minute")
    }
}

fn legend(p: &mut String) {
    p.push_str("<p class=\"legend\">");
    for o in OUTCOMES {
        let _ = write!(p, "<span><i class=\"{}\"></i>{o}</span>", class(o));
    }
    p.push_str("</p>\n");
}

/// The most denied principals, keys and actions as horizontal bar charts.
fn most_denied(p: &mut String, s: &Summary) {
    p.push_str("<section id=\"denied\"><h2>Most denied</h2><p class=\"note\">Records keyward denies (explicitly or implicitly); role sessions count under their role.</p><div class=\"charts\">\n");
    let actions = s.denied_action_names();
    for (id, title, counts) in [
        ("principals", "Principals", &s.denied_principals),
        ("keys", "Keys", &s.denied_keys),
        ("actions", "Actions", &actions),
    ] {
        let _ = write!(p, "<figure><figcaption>{title}");
        if counts.len() > TOP {
            let _ = write!(p, " (top {TOP} of {})", counts.len());
        }
        p.push_str("</figcaption>");
        bars(p, &format!("chart-{id}"), counts);
        p.push_str("</figure>\n");
    }
    p.push_str("</div></section>\n");
}

/// A horizontal bar chart of the [`TOP`] largest counts: label above, bar and count below.
fn bars(p: &mut String, id: &str, counts: &HashMap<String, u64>) {
    let rows = top(counts, TOP);
    if rows.is_empty() {
        let _ = write!(
            p,
            "<svg id=\"{id}\" class=\"chart\" viewBox=\"0 0 340 30\"><text class=\"tick\" x=\"0\" y=\"18\">none denied</text></svg>"
        );
        return;
    }
    let max = rows[0].1.max(1);
    let (w, row) = (340.0, 36.0);
    let _ = write!(
        p,
        "<svg id=\"{id}\" class=\"chart\" viewBox=\"0 0 {w} {}\" role=\"img\">",
        row * rows.len() as f64 + 4.0
    );
    for (i, (name, n)) in rows.iter().enumerate() {
        let y = i as f64 * row;
        let bw = ((w - 48.0) * *n as f64 / max as f64).max(2.0);
        let _ = write!(
            p,
            "<g class=\"row\"><title>{}: {n}</title><text class=\"label\" x=\"0\" y=\"{:.1}\">{}</text><rect class=\"bar\" data-count=\"{n}\" x=\"0\" y=\"{:.1}\" width=\"{bw:.2}\" height=\"14\"/><text class=\"tick\" x=\"{:.2}\" y=\"{:.1}\">{n}</text></g>",
            escape(&clip(name, 2 * CLIP)),
            y + 13.0,
            escape(&clip_start(name, 50)),
            y + 17.0,
            bw + 4.0,
            y + 29.0
        );
    }
    p.push_str("</svg>");
}

/// A filter box (and the count of rows it shows) for the table `table`.
fn filter_box(p: &mut String, table: &str, what: &str) {
    let _ = writeln!(
        p,
        "<p class=\"filter\"><input type=\"search\" id=\"{table}-filter\" data-filter=\"{table}\" placeholder=\"filter {what}: principal, key, action, reason…\" aria-label=\"filter {what}\"> <span id=\"{table}-shown\" class=\"shown\"></span></p>"
    );
}

/// `file record N (eventID …)`, the file clipped to its end.
fn source(files: &[Input], at: At, event_id: Option<&str>) -> String {
    let file = files
        .get(at.file as usize)
        .map_or("?", |f| f.shown.as_str());
    let mut out = format!(
        "<span title=\"{}\">{}</span> record {}",
        shown(file),
        escape(&clip_start(file, 60)),
        at.record
    );
    if let Some(id) = event_id {
        let _ = write!(out, "<br><small>eventID {}</small>", shown(id));
    }
    out
}

/// An outcome with its reasons as an HTML cell body.
fn decision_cell(d: &Decision, missing: Option<&str>) -> String {
    let mut out = format!(
        "<span class=\"pill {}\">{}</span>",
        class(d.outcome),
        d.outcome
    );
    if let Some(m) = missing {
        let _ = write!(out, " <small>({})</small>", escape(m));
    }
    if let Some(e) = d.operation_error.as_deref() {
        let _ = write!(out, " <small>but fails with {}</small>", shown(e));
    }
    if !d.reasons.is_empty() {
        out.push_str("<ul>");
        for r in &d.reasons {
            let _ = write!(out, "<li>by {}</li>", shown(&r.to_string()));
        }
        out.push_str("</ul>");
    }
    out
}

/// The disagreements with AWS, filterable.
fn disagreements(p: &mut String, s: &Summary, files: &[Input]) {
    let _ = writeln!(
        p,
        "<section id=\"disagreements\"><h2>Disagreements with AWS <span class=\"count\">{}</span></h2>",
        s.disagreements
    );
    if s.disagreement_list.is_empty() {
        let _ = writeln!(
            p,
            "<p class=\"empty\">{}</p></section>",
            if s.disagreements == 0 {
                "keyward agrees with every decision AWS recorded."
            } else {
                "None listed (raise --limit to list them)."
            }
        );
        return;
    }
    filter_box(p, "disagreement-table", "disagreements");
    p.push_str("<table id=\"disagreement-table\" class=\"list\"><thead><tr><th>record</th><th>principal</th><th>action</th><th>key</th><th>AWS</th><th>keyward</th></tr></thead><tbody>\n");
    for d in s.disagreement_list.iter().take(ROWS) {
        let mut keyward = decision_cell(&d.decision, d.explanation.missing.map(|m| m.code()));
        if !d.explanation.notes.is_empty() {
            keyward.push_str("<ul class=\"notes\">");
            for n in &d.explanation.notes {
                let _ = write!(keyward, "<li>{}</li>", shown(n));
            }
            keyward.push_str("</ul>");
        }
        let _ = writeln!(
            p,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{keyward}</td></tr>",
            source(files, d.at, d.event_id.as_deref()),
            shown(&d.request.caller.arn),
            shown(&d.request.action_name()),
            shown(&d.request.resource),
            shown(d.recorded.label()),
        );
    }
    p.push_str("</tbody></table>\n");
    unlisted(
        p,
        s.disagreements,
        s.disagreement_list.len().min(ROWS) as u64,
        "disagreements",
    );
    p.push_str("</section>\n");
}

/// A note on the rows a table leaves out, if any.
fn unlisted(p: &mut String, total: u64, listed: u64, what: &str) {
    if total > listed {
        let _ = writeln!(
            p,
            "<p class=\"note unlisted\">{listed} of {total} {what} listed; the counts above are complete (raise <code>--limit</code> to list more, up to {ROWS} rows shown here; <code>--json</code> lists all).</p>"
        );
    }
}

/// The decisions the second world changes, one row a group, filterable by text and direction.
fn changed(p: &mut String, changes: &Changes, files: &[Input], before: &Engine, after: &Engine) {
    let _ = writeln!(
        p,
        "<section id=\"changes\"><h2>Decisions that change <span class=\"count\">{}</span></h2><p class=\"note\">{} allow → deny, {} deny → allow. Records with the same principal, key, action and reasons on both sides form one row.</p>",
        changes.changed(),
        changes.allow_to_deny,
        changes.deny_to_allow
    );
    let groups = changes.groups();
    if groups.is_empty() {
        p.push_str("<p class=\"empty\">No decision changes.</p></section>\n");
        return;
    }
    filter_box(p, "change-table", "changes");
    p.push_str("<p class=\"filter\"><select data-filter-for=\"change-table\" aria-label=\"direction\"><option value=\"\">both directions</option><option value=\"allow-to-deny\">allow → deny</option><option value=\"deny-to-allow\">deny → allow</option></select></p>\n");
    p.push_str("<table id=\"change-table\" class=\"list\"><thead><tr><th>change</th><th>principal</th><th>action</th><th>key</th><th>records</th><th>before</th><th>after</th></tr></thead><tbody>\n");
    for g in groups.iter().take(ROWS) {
        let first: &Change = g.changes[0];
        let missing = |engine: &Engine, d: &Decision| {
            if d.reasons.is_empty() && d.outcome != Outcome::Allow {
                crate::reference::explain(engine.world(), &first.request)
                    .1
                    .missing
                    .map(|m| m.code())
            } else {
                None
            }
        };
        let mut records = String::new();
        for c in g.changes.iter().take(5) {
            let _ = write!(
                records,
                "<li>{}</li>",
                source(files, c.at, c.event_id.as_deref())
            );
        }
        if g.changes.len() > 5 {
            let _ = write!(records, "<li>… and {} more</li>", g.changes.len() - 5);
        }
        let direction = g.direction();
        let _ = writeln!(
            p,
            "<tr data-change=\"{direction}\" data-count=\"{}\"><td><span class=\"pill {}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td><b>{}</b><ul class=\"records\">{records}</ul></td><td>{}</td><td>{}</td></tr>",
            g.changes.len(),
            if direction == "allow-to-deny" { "implicit" } else { "allow" },
            if direction == "allow-to-deny" { "allow → deny" } else { "deny → allow" },
            shown(g.principal),
            shown(&g.action),
            shown(g.resource),
            g.changes.len(),
            decision_cell(&first.before, missing(before, &first.before)),
            decision_cell(&first.after, missing(after, &first.after)),
        );
    }
    p.push_str("</tbody></table>\n");
    let listed: u64 = groups
        .iter()
        .take(ROWS)
        .map(|g| g.changes.len() as u64)
        .sum();
    unlisted(p, changes.changed(), listed, "changed records");
    p.push_str("</section>\n");
}

/// The bad records, if any.
fn bad_records(p: &mut String, s: &Summary, files: &[Input]) {
    if s.bad_records() == 0 {
        return;
    }
    let _ = writeln!(
        p,
        "<section id=\"bad\"><h2>Bad records <span class=\"count\">{}</span></h2>",
        s.bad_records()
    );
    if !s.bad.is_empty() {
        filter_box(p, "bad-table", "bad records");
        p.push_str("<table id=\"bad-table\" class=\"list\"><thead><tr><th>record</th><th>kind</th><th>error</th></tr></thead><tbody>\n");
        for (at, b) in s.bad.iter().take(ROWS) {
            let _ = writeln!(
                p,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                source(files, *at, None),
                b.kind.code(),
                shown(&b.message)
            );
        }
        p.push_str("</tbody></table>\n");
    }
    unlisted(
        p,
        s.bad_records(),
        s.bad.len().min(ROWS) as u64,
        "bad records",
    );
    p.push_str("</section>\n");
}

/// Everything before the body's content: the policy that forbids loading anything, and the styles.
const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en" data-ready="false">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>keyward replay report</title>
<style>
:root { --allow: #2e7d32; --explicit: #b71c1c; --implicit: #ef6c00; --ink: #1d2330; --mute: #5f6b7a; --line: #d9dee5; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f6f7f9; }
header { padding: 20px 32px 12px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 4px; font-size: 22px; }
h2 { font-size: 17px; margin: 0 0 10px; }
.sub, .note { color: var(--mute); margin: 0 0 8px; }
main { padding: 16px 32px 40px; display: grid; gap: 16px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; overflow-x: auto; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 8px; }
.card { border: 1px solid var(--line); border-radius: 6px; border-collapse: separate; padding: 6px 10px; min-width: 190px; }
.card caption { text-align: left; font-weight: 600; padding: 0 0 4px; }
.card th { text-align: left; font-weight: normal; color: var(--mute); padding: 1px 12px 1px 0; }
.card td { text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
tr.flag td { color: var(--explicit); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: 6px; }
svg.chart { width: 100%; height: auto; display: block; }
#chart-time { max-height: 300px; }
svg .allow, .legend .allow, .pill.allow { fill: var(--allow); background: var(--allow); }
svg .explicit, .legend .explicit, .pill.explicit { fill: var(--explicit); background: var(--explicit); }
svg .implicit, .legend .implicit, .pill.implicit { fill: var(--implicit); background: var(--implicit); }
svg .bar { fill: #3f6fb5; }
svg .axis { stroke: #9aa5b1; stroke-width: 1; }
svg text { font: 11px system-ui, sans-serif; fill: var(--ink); }
svg .tick { fill: var(--mute); }
.legend span { margin-right: 14px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 5px; border-radius: 2px; }
.pill { color: #fff; border-radius: 10px; padding: 1px 8px; font-size: 12px; white-space: nowrap; }
table.list { border-collapse: collapse; width: 100%; }
table.list th, table.list td { border-top: 1px solid var(--line); padding: 6px 8px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
table.list thead th { background: #f0f2f5; border-top: none; overflow-wrap: normal; }
table.list ul { margin: 4px 0 0; padding-left: 18px; }
ul.records { padding-left: 14px; }
.notes { color: var(--mute); }
.filter input { width: min(480px, 100%); padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; }
.filter select { padding: 4px; }
.shown { color: var(--mute); }
.count { color: var(--mute); font-weight: normal; }
.empty { color: var(--mute); font-style: italic; }
code { font-size: 12px; }
</style>
</head>
<body>
"#;

/// The page's only script: the filter boxes. It marks the page ready when it has run.
const SCRIPT: &str = r#"(function () {
  "use strict";
  function wire(box) {
    var table = document.getElementById(box.getAttribute("data-filter"));
    var shown = document.getElementById(table.id + "-shown");
    var select = document.querySelector('select[data-filter-for="' + table.id + '"]');
    var rows = table.tBodies[0].rows;
    function apply() {
      var terms = box.value.toLowerCase().split(/\s+/).filter(Boolean);
      var direction = select ? select.value : "";
      var n = 0;
      for (var i = 0; i < rows.length; i++) {
        var text = rows[i].textContent.toLowerCase();
        var ok = terms.every(function (t) { return text.indexOf(t) >= 0; }) &&
          (!direction || rows[i].getAttribute("data-change") === direction);
        rows[i].hidden = !ok;
        if (ok) { n++; }
      }
      shown.textContent = n + " of " + rows.length + " rows shown";
    }
    box.addEventListener("input", apply);
    if (select) { select.addEventListener("change", apply); }
    apply();
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[data-filter]"), wire);
  document.documentElement.setAttribute("data-ready", "true");
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::World;

    #[test]
    fn a_huge_replay_makes_a_bounded_page() {
        let mut s = Summary::default();
        let long = "<x>".repeat(10_000);
        for i in 0..5000u64 {
            s.denied_principals
                .insert(format!("arn:aws:iam::111122223333:user/u{i}{long}"), i + 1);
            s.recorded_failed.insert(format!("Error{i}{long}"), 1);
        }
        s.denied_keys.insert("k".into(), 1);
        s.denied_actions.insert("Decrypt".into(), 1);
        // A year of traffic, a record every ten minutes.
        for m in (0..365 * 1440).step_by(10) {
            s.timeline.insert(29_000_000 + m, [1, 0, 2]);
        }
        s.evaluated = 3 * s.timeline.len() as u64;
        s.disagreements = 7;
        let engine = crate::engine::Engine::compile(World::default());
        let names = Names {
            world: "w.json",
            against: None,
        };
        let page = render(&s, &[], &engine, None, &names);
        assert!(page.len() < 4_000_000, "{} bytes", page.len());
        assert!(!page.contains("<x>"));
        assert!(page.contains("Principals (top 10 of 5000)"));
        assert_eq!(page.matches("<g class=\"row\">").count(), 10 + 1 + 1);
        let bars = page.matches("<g class=\"bucket\"").count();
        assert!((52..=54).contains(&bars), "{bars} bars");
        assert!(page.contains("Each bar is 7 days"));
        assert!(page.contains(&format!("… and {} more", 5000 - ROWS)));
        assert!(page.contains("None listed (raise --limit to list them)."));
    }

    #[test]
    fn escape_covers_every_special_character() {
        assert_eq!(
            escape(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
    }

    #[test]
    fn clipping_cuts_on_characters_and_marks_the_cut() {
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("ééééé", 2), "éé…");
        assert_eq!(clip_start("dir/sub/file.json", 9), "…file.json");
        assert_eq!(clip_start("ünïcödé", 3), "…ödé");
    }

    #[test]
    fn bucket_widths_keep_the_bars_bounded_and_round() {
        assert_eq!(bucket_width(5), 1);
        assert_eq!(bucket_width(120), 1);
        assert_eq!(bucket_width(121), 5);
        assert_eq!(bucket_width(24 * 60), 15);
        assert_eq!(bucket_width(365 * 1440), 10080);
        let huge = 1000 * 365 * 1440;
        assert!(ceil_div(huge, bucket_width(huge)) <= BUCKETS);
        assert_eq!(duration(60), "1 hour");
        assert_eq!(duration(10080), "7 days");
        assert_eq!(duration(15), "15 minutes");
    }
}
